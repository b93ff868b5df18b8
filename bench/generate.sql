-- pg2lite benchmark data: a multi-tenant application database of issue 6's shape.
--
--   psql -v ON_ERROR_STOP=1 -v rows=2000000 -f bench/generate.sql DBNAME
--
-- `rows` (default 200000) is the number of events; notes are rows/4; tenants are always 100.
-- 2,000,000 rows make about 1.2 GB. The database must be dedicated to the benchmark: the
-- tables tenants, events and notes are dropped and created again.
--
-- Deterministic: every value is a function of generate_series' counter, or of random() after
-- setseed() in a single serial INSERT ... SELECT, so two runs give byte-identical data (and
-- byte-identical pg2lite exports). Rows are inserted in key order; tenants are interleaved in
-- events and notes, as they are in a real shared database, so that a tenant-scoped export has
-- to use the tenant_id indexes rather than read a contiguous range.

\set ON_ERROR_STOP on
\if :{?rows}
\else
\set rows 200000
\endif

SET client_min_messages = warning;
SET synchronous_commit = off;
SET TimeZone = 'UTC';
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';
SET max_parallel_maintenance_workers = 2;

DROP TABLE IF EXISTS notes, events, tenants CASCADE;

CREATE TABLE tenants (
    id         integer     NOT NULL,
    name       text        NOT NULL,
    email      text        NOT NULL,
    settings   jsonb,
    created_at timestamptz NOT NULL
);

CREATE TABLE events (
    id        bigint        NOT NULL,
    tenant_id integer       NOT NULL,
    uid       uuid          NOT NULL,
    payload   jsonb,
    amount    numeric(12,2),
    score     float8,
    flag      boolean,
    at        timestamptz   NOT NULL,
    day       date          NOT NULL,
    tags      text[]
);

CREATE TABLE notes (
    id         bigint      NOT NULL,
    tenant_id  integer     NOT NULL,
    event_id   bigint,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- The tenant of event i: a multiplicative hash of i spread over 1..100 (uniform, interleaved).
-- notes use the same function on the event they point to, so a note and its event always
-- belong to the same tenant.
CREATE OR REPLACE FUNCTION pg_temp.tenant_of(i bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN 1 + (((i * 2654435761) % 4294967296) * 100 / 4294967296)::integer;

SELECT setseed(0.42) AS seeded \gset

INSERT INTO tenants (id, name, email, settings, created_at)
SELECT t,
       'Tenant ' || t,
       'owner' || t || '@tenant' || t || '.example.com',
       jsonb_build_object(
           'theme', (ARRAY['light', 'dark', 'system'])[1 + t % 3],
           'locale', (ARRAY['en-GB', 'fr-FR', 'de-DE', 'ja-JP'])[1 + t % 4],
           'plan', CASE WHEN t % 10 = 0 THEN 'pro' ELSE 'free' END,
           'limits', jsonb_build_object('seats', t % 7 + 1, 'storage_gb', t * 5)),
       timestamptz '2019-01-01 00:00:00+00' + t * interval '3 days 7 hours'
FROM generate_series(1, 100) AS t;

INSERT INTO events (id, tenant_id, uid, payload, amount, score, flag, at, day, tags)
SELECT i,
       pg_temp.tenant_of(i),
       md5('event' || i)::uuid,
       CASE WHEN i % 50 = 0 THEN NULL ELSE jsonb_build_object(
           'type', (ARRAY['click', 'view', 'purchase', 'signup', 'refund'])[1 + (i % 5)::integer],
           'session', md5('session' || (i / 20)),
           'n', i % 1000,
           'ok', i % 3 = 0,
           'ratio', round((random() * 100)::numeric, 3),
           'items', jsonb_build_array(i % 7, i % 11, 'sku-' || (i % 97)),
           'meta', jsonb_build_object('ua', 'Mozilla/5.0 (X11; Linux x86_64)', 'ref', NULL))
       END,
       CASE WHEN i % 41 = 0 THEN NULL ELSE round((random() * 20000 - 1000)::numeric, 2) END,
       CASE WHEN i % 43 = 0 THEN NULL ELSE random() * 1000 END,
       CASE WHEN i % 97 = 0 THEN NULL ELSE i % 3 = 0 END,
       ts,
       (ts AT TIME ZONE 'UTC')::date,
       CASE i % 4
           WHEN 0 THEN '{}'::text[]
           WHEN 1 THEN ARRAY[(ARRAY['red', 'green', 'blue', 'urgent', 'later'])[1 + (i % 5)::integer]]
           WHEN 2 THEN ARRAY['billing', (ARRAY['eu', 'us', 'apac'])[1 + (i % 3)::integer]]
           ELSE ARRAY['a "quoted" tag', NULL, 'x,y']
       END
FROM generate_series(1, :rows::bigint) AS i,
     LATERAL (SELECT timestamptz '2020-01-01 00:00:00+00'
                     + i * interval '37 seconds'
                     + (i * 7919 % 1000000) * interval '1 microsecond' AS ts) AS t;

-- About 500 bytes of text per note: a slice of a fixed paragraph (quotes, a newline, a comma
-- and non-ASCII letters, as in real notes) followed by a per-row hash.
INSERT INTO notes (id, tenant_id, event_id, body, created_at)
SELECT n,
       pg_temp.tenant_of(coalesce(e, n)),
       e,
       'Note ' || n || ': ' || substr(p.para, 1 + (n % 400)::integer, 440) || ' #' || md5('note' || n),
       timestamptz '2020-01-01 00:00:00+00' + n * interval '2 minutes 11 seconds'
FROM generate_series(1, greatest(:rows::bigint / 4, 1)) AS n,
     LATERAL (SELECT CASE WHEN n % 5 = 0 THEN NULL ELSE 1 + (n * 48271) % :rows::bigint END AS e) AS ev,
     (SELECT repeat('Met with the client about the quarterly review; they said "ship it" but '
                    || 'asked for the café report, the naïve forecast and the résumé of the '
                    || E'new hire.\nFollow-up: call back on Tuesday, 10:30 — bring the '
                    || 'figures for Q3, the invoices (paid, unpaid) and a 50% discount offer. ',
                    4) AS para) AS p;

ALTER TABLE tenants ADD PRIMARY KEY (id);
ALTER TABLE tenants ADD UNIQUE (email);
ALTER TABLE events ADD PRIMARY KEY (id);
ALTER TABLE events ADD UNIQUE (uid);
ALTER TABLE notes ADD PRIMARY KEY (id);
ALTER TABLE events ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE notes ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);
ALTER TABLE notes ADD FOREIGN KEY (event_id) REFERENCES events (id);
CREATE INDEX events_tenant_id_idx ON events (tenant_id);
CREATE INDEX notes_tenant_id_idx ON notes (tenant_id);
CREATE INDEX notes_event_id_idx ON notes (event_id);

-- Freeze as well as analyze: sets hint bits and the visibility map now, so that the first
-- timed read does not pay for them (and write) while later ones do not.
VACUUM (FREEZE, ANALYZE) tenants, events, notes;
