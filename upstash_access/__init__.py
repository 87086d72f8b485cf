"""Upstash access objects as Pulumi dynamic resources: Redis ACL users and the QStash credentials.

The same model as clickhouse_sql (observe -> converge on create/update, drift on read, stored drift
is a change for diff, nothing run on a no-op `up`), with its property helpers and clean errors
(dynamic_props), for what no Upstash provider resource manages:

    acl          pure: the consumers' ACL rules, names, key patterns, GETUSER normalisation
    extensions   the seam: Upstash-only ACL subcommands (GENTOKEN), their documented behaviour
    connection   the admin connection (redis-py, TLS) and error scrubbing
    user         RedisUserProvider: one ACL user per consumer and database, two-step rotation
    inventory    RedisAclUsersProvider: users on the database that nobody declared are drift
    qstash       the QStash token and signing keys from the Upstash API; signing-key rotation
    resources    the pulumi.dynamic.Resource subclasses (this package's public API)

Providers hold no client and no secret (dill pickles them into the state): the database's admin
password arrives as a secret input with each call, the Upstash API credentials from the
environment (UPSTASH_EMAIL, UPSTASH_API_KEY) at call time.
"""
