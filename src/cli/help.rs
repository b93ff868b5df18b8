//! The "Examples" shown after each subcommand's options (`--help`): what people type, from
//! the common case to the rarer ones, in the manner of pg_dump's and git's manuals.

/// `pg2lite export --help`.
pub const EXPORT: &str = "\
Examples:
  pg2lite export --source postgresql://app@db.example/shop
  pg2lite export -h db.example -U app -d shop -n public -T 'audit_*'
  pg2lite export -d shop --tenant-column user_id --tenant-key email=alice@example.com
  pg2lite export -d shop --tenant-column user_id --each-tenant --out exports
  DATABASE_URL=postgresql://app@db.example/shop?sslmode=verify-full pg2lite export -j 4";

/// `pg2lite verify --help`.
pub const VERIFY: &str = "\
Examples:
  pg2lite verify migration_data/shop-20260101T120000Z
  pg2lite verify --deep migration_data/shop-20260101T120000Z
  cd migration_data/shop-20260101T120000Z && sha256sum -c SHA256SUMS   (the same, without pg2lite)";

/// `pg2lite import --help`.
pub const IMPORT: &str = "\
Examples:
  pg2lite import --from migration_data/shop-20260101T120000Z --target shop.db
  pg2lite import --from migration_data/shop-20260101T120000Z --target shop.db --yes --numeric text
  pg2lite import --from migration_data/shop-20260101T120000Z --target shop.db --schema-file schema/shop.sql";

/// `pg2lite migrate --help`.
pub const MIGRATE: &str = "\
Examples:
  pg2lite migrate postgresql://app@db.example/shop shop.db
  pg2lite migrate --dry-run -h db.example -U app -d shop --target shop.db
  pg2lite migrate -d shop --tenant-column user_id --tenant-key email=alice@example.com --target alice.db
  pg2lite migrate -d shop --tenant-column user_id --each-tenant --target-dir tenants --name-by email
  pg2lite migrate -d shop --tenant-column user_id --each-tenant --target-dir tenants --shard 1/4 --snapshot ID
  pg2lite migrate --skip-export --from migration_data/shop-20260101T120000Z --target shop.db --yes";

/// `pg2lite snapshot --help`.
pub const SNAPSHOT: &str = "\
Examples:
  pg2lite snapshot --hold -d shop      (prints the id, e.g. 00000003-0000001B-1; Ctrl-C releases it)
  ID=$(pg2lite snapshot --hold -d shop | head -1) ...   (in a script: read the first line, keep it running)
  pg2lite migrate -d shop --tenant-column user_id --each-tenant --target-dir t --shard 2/2 --snapshot 00000003-0000001B-1";

/// `pg2lite schema --help`.
pub const SCHEMA: &str = "\
Examples:
  pg2lite schema --from migration_data/shop-20260101T120000Z
  pg2lite schema --source postgresql://app@db.example/shop --out - --strict
  pg2lite schema --from migration_data/shop-20260101T120000Z --rename public.users=people --out schema/shop.sql";

/// `pg2lite rollback --help`.
pub const ROLLBACK: &str = "\
Examples:
  pg2lite rollback --target shop.db --list
  pg2lite rollback --target shop.db
  pg2lite rollback --target shop.db --to backups/shop-20260101T120000.123456Z.db";

/// `pg2lite validate --help`.
pub const VALIDATE: &str = "\
Examples:
  pg2lite validate --from migration_data/shop-20260101T120000Z --target shop.db
  pg2lite validate --from migration_data/shop-20260101T120000Z --target shop.db --report report.json
  pg2lite validate --from migration_data/shop-20260101T120000Z --target shop.db -d shop --require-unchanged";
