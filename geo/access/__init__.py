"""Who may do what: roles and permissions, accounts and sessions, throttling of guesses,
the audit log, and the masks of personal data."""
