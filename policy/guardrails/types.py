"""Resource type tokens the guardrails inspect (as the engine reports them)."""

CLICKHOUSE_SERVICE = "clickhouse:index/service:Service"
REDIS_DATABASE = "upstash:index/redisDatabase:RedisDatabase"
# A Redis database declared inside this component holds pipeline state (cursors, dedup keys).
PIPELINE_STATE_COMPONENT = "salla:analytics:PipelineState"
QSTASH_TOPIC_V2 = "upstash:index/qStashTopicV2:QStashTopicV2"
# QStash v1 resources call an API Upstash removed.
QSTASH_V1 = frozenset(
    {
        "upstash:index/qStashTopic:QStashTopic",
        "upstash:index/qStashEndpoint:QStashEndpoint",
        "upstash:index/qStashSchedule:QStashSchedule",
    }
)
S3_BUCKET = "aws:s3/bucket:Bucket"
KMS_KEY = "aws:kms/key:Key"
# Resources that accept tags (directly or through the provider's default tags).
TAGGABLE = frozenset({CLICKHOUSE_SERVICE, S3_BUCKET, KMS_KEY})
# The ClickHouse SQL objects of the program's dynamic provider (clickhouse_sql/); the engine types
# a Python dynamic resource `pulumi-python:dynamic/<module>:<name>`.
CLICKHOUSE_SQL_PREFIX = "pulumi-python:dynamic/clickhouse:"
CLICKHOUSE_SQL_USER = CLICKHOUSE_SQL_PREFIX + "User"
CLICKHOUSE_SQL_PROFILE = CLICKHOUSE_SQL_PREFIX + "SettingsProfile"
CLICKHOUSE_SQL_QUOTA = CLICKHOUSE_SQL_PREFIX + "Quota"
CLICKHOUSE_SQL = frozenset(
    {
        CLICKHOUSE_SQL_PREFIX + "Database",
        CLICKHOUSE_SQL_PREFIX + "Role",
        CLICKHOUSE_SQL_PREFIX + "Grant",
        CLICKHOUSE_SQL_USER,
        CLICKHOUSE_SQL_PROFILE,
        CLICKHOUSE_SQL_QUOTA,
    }
)
# The program's Upstash access objects (upstash_access/): a consumer's Redis ACL user, and each
# database's complete user list.
UPSTASH_REDIS_USER = "pulumi-python:dynamic/upstash:RedisUser"
UPSTASH_REDIS_ACL = frozenset({UPSTASH_REDIS_USER, "pulumi-python:dynamic/upstash:RedisAclUsers"})
# A consumer's ClickHouse passwords are RandomPasswords declared inside this component.
WAREHOUSE_ACCESS_COMPONENT = "salla:analytics:WarehouseAccess"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
