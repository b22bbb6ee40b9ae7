"""PostgreSQL snapshot change log: a statement trigger (with transition tables) per catalog table and event,
logging the products each statement wrote into `snapshotchange`, so scheduled and `--changed` rebuilds check only
those (as SQLite's row triggers from 0001 do). See knowledge/dialects/snapshot_changes.py for why statement
triggers and the shared advisory lock.

SQLite has its triggers since 0001 and has nothing to do here. The DDL is written out, not imported: a migration
must keep making the schema it made when the code around it changes.

Revision 0003, after 0002.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Function name -> CREATE OR REPLACE FUNCTION (the advisory lock key is the bytes of "pcsnapch").
FUNCTION_DDL: dict[str, str] = {
    "snapshot_change_product": (
        'CREATE OR REPLACE FUNCTION snapshot_change_product() RETURNS trigger LANGUAGE plpgsql AS $body$ '
        "BEGIN PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT "
        'INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT r.id FROM new_rows r) AS changed (product_id) WHERE product_id IS NOT'
        ' NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick WHERE '
        "snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO snapshotchange "
        '(product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) '
        'FROM (SELECT r.id FROM new_rows r UNION SELECT r.id FROM old_rows r) AS changed (product_id) WHERE '
        'product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.id FROM old_rows r) AS changed (product_id) WHERE product_id IS NOT NULL '
        'GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick WHERE '
        "snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO snapshotchange "
        '(product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) FROM '
        'product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; END $body$'
    ),
    "snapshot_change_plan": (
        'CREATE OR REPLACE FUNCTION snapshot_change_plan() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN '
        "PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.product_id FROM new_rows r) AS changed (product_id) WHERE product_id IS '
        'NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick WHERE '
        "snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO snapshotchange "
        '(product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) '
        'FROM (SELECT r.product_id FROM new_rows r UNION SELECT r.product_id FROM old_rows r) AS changed '
        '(product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET'
        " tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' THEN INSERT"
        ' INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT r.product_id FROM old_rows r) AS changed (product_id) WHERE '
        'product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1),'
        ' 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; '
        'END $body$'
    ),
    "snapshot_change_feature": (
        'CREATE OR REPLACE FUNCTION snapshot_change_feature() RETURNS trigger LANGUAGE plpgsql AS $body$ '
        "BEGIN PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT "
        'INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT r.product_id FROM new_rows r) AS changed (product_id) WHERE '
        'product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.product_id FROM new_rows r UNION SELECT r.product_id FROM old_rows r) AS '
        'changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO '
        "UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' "
        'THEN INSERT INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM '
        'snapshotstate WHERE id = 1), 0) FROM (SELECT r.product_id FROM old_rows r) AS changed (product_id) '
        'WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1),'
        ' 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; '
        'END $body$'
    ),
    "snapshot_change_planfeature": (
        'CREATE OR REPLACE FUNCTION snapshot_change_planfeature() RETURNS trigger LANGUAGE plpgsql AS $body$ '
        "BEGIN PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT "
        'INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT p.product_id FROM new_rows r JOIN plan p ON p.id = r.plan_id UNION '
        'SELECT f.product_id FROM new_rows r JOIN feature f ON f.id = r.feature_id) AS changed (product_id) '
        'WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT p.product_id FROM new_rows r JOIN plan p ON p.id = r.plan_id UNION SELECT '
        'f.product_id FROM new_rows r JOIN feature f ON f.id = r.feature_id UNION SELECT p.product_id FROM '
        'old_rows r JOIN plan p ON p.id = r.plan_id UNION SELECT f.product_id FROM old_rows r JOIN feature f '
        'ON f.id = r.feature_id) AS changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON '
        'CONFLICT (product_id) DO UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick;'
        " ELSIF TG_OP = 'DELETE' THEN INSERT INTO snapshotchange (product_id, tick) SELECT product_id, "
        'coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) FROM (SELECT p.product_id FROM old_rows r'
        ' JOIN plan p ON p.id = r.plan_id UNION SELECT f.product_id FROM old_rows r JOIN feature f ON f.id = '
        'r.feature_id) AS changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT '
        '(product_id) DO UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF '
        "TG_OP = 'TRUNCATE' THEN INSERT INTO snapshotchange (product_id, tick) SELECT id, coalesce((SELECT "
        'tick FROM snapshotstate WHERE id = 1), 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick ='
        ' excluded.tick; END IF; RETURN NULL; END $body$'
    ),
    "snapshot_change_integration": (
        'CREATE OR REPLACE FUNCTION snapshot_change_integration() RETURNS trigger LANGUAGE plpgsql AS $body$ '
        "BEGIN PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT "
        'INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT r.product_id FROM new_rows r) AS changed (product_id) WHERE '
        'product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.product_id FROM new_rows r UNION SELECT r.product_id FROM old_rows r) AS '
        'changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO '
        "UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' "
        'THEN INSERT INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM '
        'snapshotstate WHERE id = 1), 0) FROM (SELECT r.product_id FROM old_rows r) AS changed (product_id) '
        'WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1),'
        ' 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; '
        'END $body$'
    ),
    "snapshot_change_planlimit": (
        'CREATE OR REPLACE FUNCTION snapshot_change_planlimit() RETURNS trigger LANGUAGE plpgsql AS $body$ '
        "BEGIN PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT "
        'INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT p.product_id FROM new_rows r JOIN plan p ON p.id = r.plan_id) AS '
        'changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO '
        "UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' "
        'THEN INSERT INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM '
        'snapshotstate WHERE id = 1), 0) FROM (SELECT p.product_id FROM new_rows r JOIN plan p ON p.id = '
        'r.plan_id UNION SELECT p.product_id FROM old_rows r JOIN plan p ON p.id = r.plan_id) AS changed '
        '(product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET'
        " tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' THEN INSERT"
        ' INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT p.product_id FROM old_rows r JOIN plan p ON p.id = r.plan_id) AS '
        'changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO '
        "UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE'"
        ' THEN INSERT INTO snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM '
        'snapshotstate WHERE id = 1), 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = '
        'excluded.tick; END IF; RETURN NULL; END $body$'
    ),
    "snapshot_change_complianceitem": (
        'CREATE OR REPLACE FUNCTION snapshot_change_complianceitem() RETURNS trigger LANGUAGE plpgsql AS '
        "$body$ BEGIN PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN "
        'INSERT INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM '
        'snapshotstate WHERE id = 1), 0) FROM (SELECT r.product_id FROM new_rows r) AS changed (product_id) '
        'WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.product_id FROM new_rows r UNION SELECT r.product_id FROM old_rows r) AS '
        'changed (product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO '
        "UPDATE SET tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' "
        'THEN INSERT INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM '
        'snapshotstate WHERE id = 1), 0) FROM (SELECT r.product_id FROM old_rows r) AS changed (product_id) '
        'WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1),'
        ' 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; '
        'END $body$'
    ),
    "snapshot_change_addon": (
        'CREATE OR REPLACE FUNCTION snapshot_change_addon() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN '
        "PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.product_id FROM new_rows r) AS changed (product_id) WHERE product_id IS '
        'NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick WHERE '
        "snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO snapshotchange "
        '(product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) '
        'FROM (SELECT r.product_id FROM new_rows r UNION SELECT r.product_id FROM old_rows r) AS changed '
        '(product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET'
        " tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' THEN INSERT"
        ' INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT r.product_id FROM old_rows r) AS changed (product_id) WHERE '
        'product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1),'
        ' 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; '
        'END $body$'
    ),
    "snapshot_change_faq": (
        'CREATE OR REPLACE FUNCTION snapshot_change_faq() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN '
        "PERFORM pg_advisory_xact_lock_shared(8098443472860636008); IF TG_OP = 'INSERT' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE '
        'id = 1), 0) FROM (SELECT r.product_id FROM new_rows r) AS changed (product_id) WHERE product_id IS '
        'NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick WHERE '
        "snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'UPDATE' THEN INSERT INTO snapshotchange "
        '(product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1), 0) '
        'FROM (SELECT r.product_id FROM new_rows r UNION SELECT r.product_id FROM old_rows r) AS changed '
        '(product_id) WHERE product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET'
        " tick = excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'DELETE' THEN INSERT"
        ' INTO snapshotchange (product_id, tick) SELECT product_id, coalesce((SELECT tick FROM snapshotstate '
        'WHERE id = 1), 0) FROM (SELECT r.product_id FROM old_rows r) AS changed (product_id) WHERE '
        'product_id IS NOT NULL GROUP BY product_id ON CONFLICT (product_id) DO UPDATE SET tick = '
        "excluded.tick WHERE snapshotchange.tick <> excluded.tick; ELSIF TG_OP = 'TRUNCATE' THEN INSERT INTO "
        'snapshotchange (product_id, tick) SELECT id, coalesce((SELECT tick FROM snapshotstate WHERE id = 1),'
        ' 0) FROM product ON CONFLICT (product_id) DO UPDATE SET tick = excluded.tick; END IF; RETURN NULL; '
        'END $body$'
    ),
}
# Trigger name -> its CREATE OR REPLACE TRIGGER.
TRIGGER_DDL: dict[str, str] = {
    "snapshot_change_product_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_product_ai AFTER INSERT ON product REFERENCING NEW TABLE '
        'AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_product()'
    ),
    "snapshot_change_product_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_product_au AFTER UPDATE ON product REFERENCING NEW TABLE '
        'AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_product()'
    ),
    "snapshot_change_product_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_product_ad AFTER DELETE ON product REFERENCING OLD TABLE '
        'AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_product()'
    ),
    "snapshot_change_product_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_product_at AFTER TRUNCATE ON product FOR EACH STATEMENT '
        'EXECUTE FUNCTION snapshot_change_product()'
    ),
    "snapshot_change_plan_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_plan_ai AFTER INSERT ON plan REFERENCING NEW TABLE AS '
        'new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_plan()'
    ),
    "snapshot_change_plan_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_plan_au AFTER UPDATE ON plan REFERENCING NEW TABLE AS '
        'new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_plan()'
    ),
    "snapshot_change_plan_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_plan_ad AFTER DELETE ON plan REFERENCING OLD TABLE AS '
        'old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_plan()'
    ),
    "snapshot_change_plan_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_plan_at AFTER TRUNCATE ON plan FOR EACH STATEMENT EXECUTE '
        'FUNCTION snapshot_change_plan()'
    ),
    "snapshot_change_feature_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_feature_ai AFTER INSERT ON feature REFERENCING NEW TABLE '
        'AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_feature()'
    ),
    "snapshot_change_feature_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_feature_au AFTER UPDATE ON feature REFERENCING NEW TABLE '
        'AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_feature()'
    ),
    "snapshot_change_feature_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_feature_ad AFTER DELETE ON feature REFERENCING OLD TABLE '
        'AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_feature()'
    ),
    "snapshot_change_feature_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_feature_at AFTER TRUNCATE ON feature FOR EACH STATEMENT '
        'EXECUTE FUNCTION snapshot_change_feature()'
    ),
    "snapshot_change_planfeature_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planfeature_ai AFTER INSERT ON planfeature REFERENCING NEW'
        ' TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_planfeature()'
    ),
    "snapshot_change_planfeature_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planfeature_au AFTER UPDATE ON planfeature REFERENCING NEW'
        ' TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION '
        'snapshot_change_planfeature()'
    ),
    "snapshot_change_planfeature_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planfeature_ad AFTER DELETE ON planfeature REFERENCING OLD'
        ' TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_planfeature()'
    ),
    "snapshot_change_planfeature_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planfeature_at AFTER TRUNCATE ON planfeature FOR EACH '
        'STATEMENT EXECUTE FUNCTION snapshot_change_planfeature()'
    ),
    "snapshot_change_integration_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_integration_ai AFTER INSERT ON integration REFERENCING NEW'
        ' TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_integration()'
    ),
    "snapshot_change_integration_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_integration_au AFTER UPDATE ON integration REFERENCING NEW'
        ' TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION '
        'snapshot_change_integration()'
    ),
    "snapshot_change_integration_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_integration_ad AFTER DELETE ON integration REFERENCING OLD'
        ' TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_integration()'
    ),
    "snapshot_change_integration_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_integration_at AFTER TRUNCATE ON integration FOR EACH '
        'STATEMENT EXECUTE FUNCTION snapshot_change_integration()'
    ),
    "snapshot_change_planlimit_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planlimit_ai AFTER INSERT ON planlimit REFERENCING NEW '
        'TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_planlimit()'
    ),
    "snapshot_change_planlimit_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planlimit_au AFTER UPDATE ON planlimit REFERENCING NEW '
        'TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION '
        'snapshot_change_planlimit()'
    ),
    "snapshot_change_planlimit_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planlimit_ad AFTER DELETE ON planlimit REFERENCING OLD '
        'TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_planlimit()'
    ),
    "snapshot_change_planlimit_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_planlimit_at AFTER TRUNCATE ON planlimit FOR EACH '
        'STATEMENT EXECUTE FUNCTION snapshot_change_planlimit()'
    ),
    "snapshot_change_complianceitem_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_complianceitem_ai AFTER INSERT ON complianceitem '
        'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION '
        'snapshot_change_complianceitem()'
    ),
    "snapshot_change_complianceitem_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_complianceitem_au AFTER UPDATE ON complianceitem '
        'REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION '
        'snapshot_change_complianceitem()'
    ),
    "snapshot_change_complianceitem_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_complianceitem_ad AFTER DELETE ON complianceitem '
        'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION '
        'snapshot_change_complianceitem()'
    ),
    "snapshot_change_complianceitem_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_complianceitem_at AFTER TRUNCATE ON complianceitem FOR '
        'EACH STATEMENT EXECUTE FUNCTION snapshot_change_complianceitem()'
    ),
    "snapshot_change_addon_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_addon_ai AFTER INSERT ON addon REFERENCING NEW TABLE AS '
        'new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_addon()'
    ),
    "snapshot_change_addon_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_addon_au AFTER UPDATE ON addon REFERENCING NEW TABLE AS '
        'new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_addon()'
    ),
    "snapshot_change_addon_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_addon_ad AFTER DELETE ON addon REFERENCING OLD TABLE AS '
        'old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_addon()'
    ),
    "snapshot_change_addon_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_addon_at AFTER TRUNCATE ON addon FOR EACH STATEMENT '
        'EXECUTE FUNCTION snapshot_change_addon()'
    ),
    "snapshot_change_faq_ai": (
        'CREATE OR REPLACE TRIGGER snapshot_change_faq_ai AFTER INSERT ON faq REFERENCING NEW TABLE AS '
        'new_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_faq()'
    ),
    "snapshot_change_faq_au": (
        'CREATE OR REPLACE TRIGGER snapshot_change_faq_au AFTER UPDATE ON faq REFERENCING NEW TABLE AS '
        'new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_faq()'
    ),
    "snapshot_change_faq_ad": (
        'CREATE OR REPLACE TRIGGER snapshot_change_faq_ad AFTER DELETE ON faq REFERENCING OLD TABLE AS '
        'old_rows FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_faq()'
    ),
    "snapshot_change_faq_at": (
        'CREATE OR REPLACE TRIGGER snapshot_change_faq_at AFTER TRUNCATE ON faq FOR EACH STATEMENT EXECUTE '
        'FUNCTION snapshot_change_faq()'
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in FUNCTION_DDL.values():
        op.execute(statement)
    for statement in TRIGGER_DDL.values():
        op.execute(statement)
    # Catalog writes made before the triggers existed were never logged: the next changed-only rebuild checks
    # every product (as on a database from before the change log).
    op.execute("UPDATE snapshotstate SET verified_format = 0")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, statement in TRIGGER_DDL.items():
        table = statement.split(" ON ", 1)[1].split()[0]
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for name in FUNCTION_DDL:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
