"""Operator commands, run by the platform team through make: `make provisioner` (the SQL
users), `make outputs` (a consumer's variables), `make admin-hash` (the admin password's hash).
Never imported by the program."""
