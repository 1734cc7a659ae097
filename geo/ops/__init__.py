"""Running the service: the CLI, database connections and the local cluster, migrations,
the seed, health, backups, deployment and the database watch."""
