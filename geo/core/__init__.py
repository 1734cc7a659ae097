"""The ground floor: settings, errors, the domain's terms, the schema, coordinates, bulk
writes, the data version, safe spreadsheets and logs. Imports nothing else of `geo`."""
