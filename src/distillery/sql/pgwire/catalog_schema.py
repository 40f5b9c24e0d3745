"""The emulated pg_catalog and information_schema: tables, fixed rows and helper macros.

Only what psql's describe commands, drivers and common BI tools read is modelled. Tables
Distillery has nothing to put in (indexes, constraints, triggers, publications...) exist
empty, with the columns clients select, so that their queries bind and truthfully return no
rows. The tables live in the schemas `pgc` (pg_catalog) and `infs` (information_schema) of a
private DuckDB database; `catalog.py` rewrites client queries to name them.
"""

from __future__ import annotations

from distillery.sql.pgwire import pgtypes

OWNER_OID = 10
PG_CATALOG_OID, PUBLIC_OID, INFORMATION_SCHEMA_OID = 11, 2200, 13000
HEAP_AM_OID = 2
DEFAULT_COLLATION_OID = 100

PG_CATALOG: dict[str, str] = {
    "pg_namespace": "oid BIGINT, nspname VARCHAR, nspowner BIGINT, nspacl VARCHAR[]",
    "pg_class": (
        "oid BIGINT, relname VARCHAR, relnamespace BIGINT, reltype BIGINT, reloftype BIGINT, "
        "relowner BIGINT, relam BIGINT, relfilenode BIGINT, reltablespace BIGINT, "
        "relpages INTEGER, reltuples REAL, relallvisible INTEGER, reltoastrelid BIGINT, "
        "relhasindex BOOLEAN, relisshared BOOLEAN, relpersistence VARCHAR, relkind VARCHAR, "
        "relnatts SMALLINT, relchecks SMALLINT, relhasrules BOOLEAN, relhastriggers BOOLEAN, "
        "relhassubclass BOOLEAN, relrowsecurity BOOLEAN, relforcerowsecurity BOOLEAN, "
        "relispopulated BOOLEAN, relreplident VARCHAR, relispartition BOOLEAN, "
        "relrewrite BIGINT, relfrozenxid BIGINT, relminmxid BIGINT, relacl VARCHAR[], "
        "reloptions VARCHAR[], relpartbound VARCHAR"),
    "pg_attribute": (
        "attrelid BIGINT, attname VARCHAR, atttypid BIGINT, attstattarget INTEGER, "
        "attlen SMALLINT, attnum SMALLINT, attndims INTEGER, attcacheoff INTEGER, "
        "atttypmod INTEGER, attbyval BOOLEAN, attalign VARCHAR, attstorage VARCHAR, "
        "attcompression VARCHAR, attnotnull BOOLEAN, atthasdef BOOLEAN, "
        "atthasmissing BOOLEAN, attidentity VARCHAR, attgenerated VARCHAR, "
        "attisdropped BOOLEAN, attislocal BOOLEAN, attinhcount INTEGER, "
        "attcollation BIGINT, attacl VARCHAR[], attoptions VARCHAR[], "
        "attfdwoptions VARCHAR[], attmissingval VARCHAR"),
    "pg_type": (
        "oid BIGINT, typname VARCHAR, typnamespace BIGINT, typowner BIGINT, typlen SMALLINT, "
        "typbyval BOOLEAN, typtype VARCHAR, typcategory VARCHAR, typispreferred BOOLEAN, "
        "typisdefined BOOLEAN, typdelim VARCHAR, typrelid BIGINT, typsubscript VARCHAR, "
        "typelem BIGINT, typarray BIGINT, typinput VARCHAR, typoutput VARCHAR, "
        "typreceive VARCHAR, typsend VARCHAR, typmodin VARCHAR, typmodout VARCHAR, "
        "typanalyze VARCHAR, typalign VARCHAR, typstorage VARCHAR, typnotnull BOOLEAN, "
        "typbasetype BIGINT, typtypmod INTEGER, typndims INTEGER, typcollation BIGINT, "
        "typdefaultbin VARCHAR, typdefault VARCHAR, typacl VARCHAR[]"),
    "pg_am": "oid BIGINT, amname VARCHAR, amhandler VARCHAR, amtype VARCHAR",
    "pg_roles": (
        "oid BIGINT, rolname VARCHAR, rolsuper BOOLEAN, rolinherit BOOLEAN, "
        "rolcreaterole BOOLEAN, rolcreatedb BOOLEAN, rolcanlogin BOOLEAN, "
        "rolreplication BOOLEAN, rolconnlimit INTEGER, rolpassword VARCHAR, "
        "rolvaliduntil TIMESTAMPTZ, rolbypassrls BOOLEAN, rolconfig VARCHAR[]"),
    "pg_user": (
        "usename VARCHAR, usesysid BIGINT, usecreatedb BOOLEAN, usesuper BOOLEAN, "
        "userepl BOOLEAN, usebypassrls BOOLEAN, passwd VARCHAR, valuntil TIMESTAMPTZ, "
        "useconfig VARCHAR[]"),
    "pg_auth_members": "roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN",
    "pg_database": (
        "oid BIGINT, datname VARCHAR, datdba BIGINT, encoding INTEGER, datlocprovider VARCHAR, "
        "datistemplate BOOLEAN, datallowconn BOOLEAN, datconnlimit INTEGER, "
        "datfrozenxid BIGINT, datminmxid BIGINT, dattablespace BIGINT, datcollate VARCHAR, "
        "datctype VARCHAR, daticulocale VARCHAR, daticurules VARCHAR, datcollversion VARCHAR, "
        "datacl VARCHAR[]"),
    "pg_proc": (
        "oid BIGINT, proname VARCHAR, pronamespace BIGINT, proowner BIGINT, prolang BIGINT, "
        "procost REAL, prorows REAL, provariadic BIGINT, prosupport VARCHAR, prokind VARCHAR, "
        "prosecdef BOOLEAN, proleakproof BOOLEAN, proisstrict BOOLEAN, proretset BOOLEAN, "
        "provolatile VARCHAR, proparallel VARCHAR, pronargs SMALLINT, "
        "pronargdefaults SMALLINT, prorettype BIGINT, proargtypes BIGINT[], "
        "proallargtypes BIGINT[], proargmodes VARCHAR[], proargnames VARCHAR[], "
        "proargdefaults VARCHAR, protrftypes BIGINT[], prosrc VARCHAR, probin VARCHAR, "
        "prosqlbody VARCHAR, proconfig VARCHAR[], proacl VARCHAR[]"),
    "pg_description": "objoid BIGINT, classoid BIGINT, objsubid INTEGER, description VARCHAR",
    "pg_shdescription": "objoid BIGINT, classoid BIGINT, description VARCHAR",
    "pg_index": (
        "indexrelid BIGINT, indrelid BIGINT, indnatts SMALLINT, indnkeyatts SMALLINT, "
        "indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, "
        "indisexclusion BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN, "
        "indisvalid BOOLEAN, indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, "
        "indisreplident BOOLEAN, indkey SMALLINT[], indcollation BIGINT[], "
        "indclass BIGINT[], indoption SMALLINT[], indexprs VARCHAR, indpred VARCHAR"),
    "pg_constraint": (
        "oid BIGINT, conname VARCHAR, connamespace BIGINT, contype VARCHAR, "
        "condeferrable BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN, conrelid BIGINT, "
        "contypid BIGINT, conindid BIGINT, conparentid BIGINT, confrelid BIGINT, "
        "confupdtype VARCHAR, confdeltype VARCHAR, confmatchtype VARCHAR, "
        "conislocal BOOLEAN, coninhcount INTEGER, connoinherit BOOLEAN, conkey SMALLINT[], "
        "confkey SMALLINT[], conpfeqop BIGINT[], conppeqop BIGINT[], conffeqop BIGINT[], "
        "confdelsetcols SMALLINT[], conexclop BIGINT[], conbin VARCHAR"),
    "pg_attrdef": "oid BIGINT, adrelid BIGINT, adnum SMALLINT, adbin VARCHAR",
    "pg_inherits": ("inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, "
                    "inhdetachpending BOOLEAN"),
    "pg_collation": (
        "oid BIGINT, collname VARCHAR, collnamespace BIGINT, collowner BIGINT, "
        "collprovider VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER, "
        "collcollate VARCHAR, collctype VARCHAR"),
    "pg_trigger": (
        "oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT, "
        "tgtype SMALLINT, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid BIGINT, "
        "tgconstrindid BIGINT, tgconstraint BIGINT, tgdeferrable BOOLEAN, "
        "tginitdeferred BOOLEAN, tgnargs SMALLINT, tgattr SMALLINT[], tgargs VARCHAR, "
        "tgqual VARCHAR, tgoldtable VARCHAR, tgnewtable VARCHAR"),
    "pg_rewrite": ("oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, "
                   "ev_enabled VARCHAR, is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR"),
    "pg_policy": ("oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, "
                  "polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, "
                  "polwithcheck VARCHAR"),
    "pg_statistic_ext": ("oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, "
                         "stxowner BIGINT, stxstattarget INTEGER, stxkeys SMALLINT[], "
                         "stxkind VARCHAR[], stxexprs VARCHAR"),
    "pg_publication": ("oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN, "
                       "pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, "
                       "pubtruncate BOOLEAN, pubviaroot BOOLEAN"),
    "pg_publication_rel": ("oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, "
                           "prattrs SMALLINT[]"),
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_extension": ("oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, "
                     "extrelocatable BOOLEAN, extversion VARCHAR, extconfig BIGINT[], "
                     "extcondition VARCHAR[]"),
    "pg_enum": "oid BIGINT, enumtypid BIGINT, enumsortorder REAL, enumlabel VARCHAR",
    "pg_range": ("rngtypid BIGINT, rngsubtype BIGINT, rngmultitypid BIGINT, "
                 "rngcollation BIGINT, rngsubopc BIGINT, rngcanonical VARCHAR, "
                 "rngsubdiff VARCHAR"),
    "pg_tablespace": "oid BIGINT, spcname VARCHAR, spcowner BIGINT, spcacl VARCHAR[], "
                     "spcoptions VARCHAR[]",
    "pg_sequence": ("seqrelid BIGINT, seqtypid BIGINT, seqstart BIGINT, seqincrement BIGINT, "
                    "seqmax BIGINT, seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN"),
    "pg_depend": ("classid BIGINT, objid BIGINT, objsubid INTEGER, refclassid BIGINT, "
                  "refobjid BIGINT, refobjsubid INTEGER, deptype VARCHAR"),
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_partitioned_table": ("partrelid BIGINT, partstrat VARCHAR, partnatts SMALLINT, "
                             "partdefid BIGINT, partattrs SMALLINT[]"),
    "pg_language": "oid BIGINT, lanname VARCHAR, lanowner BIGINT, lanispl BOOLEAN",
    "pg_settings": (
        "name VARCHAR, setting VARCHAR, unit VARCHAR, category VARCHAR, short_desc VARCHAR, "
        "extra_desc VARCHAR, context VARCHAR, vartype VARCHAR, source VARCHAR, "
        "min_val VARCHAR, max_val VARCHAR, enumvals VARCHAR[], boot_val VARCHAR, "
        "reset_val VARCHAR, sourcefile VARCHAR, sourceline INTEGER, pending_restart BOOLEAN"),
    "pg_views": "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
    "pg_matviews": ("schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, "
                    "tablespace VARCHAR, hasindexes BOOLEAN, ispopulated BOOLEAN, "
                    "definition VARCHAR"),
    "pg_indexes": ("schemaname VARCHAR, tablename VARCHAR, indexname VARCHAR, "
                   "tablespace VARCHAR, indexdef VARCHAR"),
    "pg_stat_activity": (
        "datid BIGINT, datname VARCHAR, pid INTEGER, leader_pid INTEGER, usesysid BIGINT, "
        "usename VARCHAR, application_name VARCHAR, client_addr VARCHAR, "
        "client_hostname VARCHAR, client_port INTEGER, backend_start TIMESTAMPTZ, "
        "xact_start TIMESTAMPTZ, query_start TIMESTAMPTZ, state_change TIMESTAMPTZ, "
        "wait_event_type VARCHAR, wait_event VARCHAR, state VARCHAR, backend_xid BIGINT, "
        "backend_xmin BIGINT, query_id BIGINT, query VARCHAR, backend_type VARCHAR"),
    # Internal: format_type's spelling of every type.
    "_type_names": "oid BIGINT, display VARCHAR",
}

# Views over the tables above, as PostgreSQL defines them (only the columns clients read).
PG_CATALOG_VIEWS: dict[str, str] = {
    "pg_tables": (
        "SELECT n.nspname AS schemaname, c.relname AS tablename, "
        "pgw_userbyid(c.relowner) AS tableowner, NULL::VARCHAR AS tablespace, "
        "c.relhasindex AS hasindexes, c.relhasrules AS hasrules, "
        "c.relhastriggers AS hastriggers, c.relrowsecurity AS rowsecurity "
        "FROM pgc.pg_class c JOIN pgc.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p')"),
}

INFORMATION_SCHEMA: dict[str, str] = {
    "tables": (
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR, "
        "self_referencing_column_name VARCHAR, reference_generation VARCHAR, "
        "user_defined_type_catalog VARCHAR, user_defined_type_schema VARCHAR, "
        "user_defined_type_name VARCHAR, is_insertable_into VARCHAR, is_typed VARCHAR, "
        "commit_action VARCHAR"),
    "columns": (
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, "
        "column_name VARCHAR, ordinal_position INTEGER, column_default VARCHAR, "
        "is_nullable VARCHAR, data_type VARCHAR, character_maximum_length INTEGER, "
        "character_octet_length INTEGER, numeric_precision INTEGER, "
        "numeric_precision_radix INTEGER, numeric_scale INTEGER, datetime_precision INTEGER, "
        "interval_type VARCHAR, interval_precision INTEGER, udt_catalog VARCHAR, "
        "udt_schema VARCHAR, udt_name VARCHAR, is_identity VARCHAR, is_generated VARCHAR, "
        "is_updatable VARCHAR, dtd_identifier VARCHAR, collation_name VARCHAR"),
    "schemata": ("catalog_name VARCHAR, schema_name VARCHAR, schema_owner VARCHAR, "
                 "default_character_set_catalog VARCHAR, default_character_set_schema VARCHAR, "
                 "default_character_set_name VARCHAR, sql_path VARCHAR"),
    "views": ("table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, "
              "view_definition VARCHAR, check_option VARCHAR, is_updatable VARCHAR, "
              "is_insertable_into VARCHAR"),
    "table_constraints": (
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, "
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, "
        "constraint_type VARCHAR, is_deferrable VARCHAR, initially_deferred VARCHAR, "
        "enforced VARCHAR"),
    "key_column_usage": (
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, "
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, "
        "column_name VARCHAR, ordinal_position INTEGER, "
        "position_in_unique_constraint INTEGER"),
    "referential_constraints": (
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, "
        "unique_constraint_catalog VARCHAR, unique_constraint_schema VARCHAR, "
        "unique_constraint_name VARCHAR, match_option VARCHAR, update_rule VARCHAR, "
        "delete_rule VARCHAR"),
    "routines": ("specific_catalog VARCHAR, specific_schema VARCHAR, specific_name VARCHAR, "
                 "routine_catalog VARCHAR, routine_schema VARCHAR, routine_name VARCHAR, "
                 "routine_type VARCHAR, data_type VARCHAR"),
}

# Helper macros the rewritten queries call (named pgw_* so they never shadow DuckDB's own).
MACROS: list[str] = [
    "CREATE MACRO pgw_userbyid(x) AS "
    "coalesce((SELECT rolname FROM pgc.pg_roles WHERE oid = x), 'distillery')",
    "CREATE MACRO pgw_format_type(t, m) AS CASE "
    "WHEN t = 1700 AND m >= 4 THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) "
    "|| ')' ELSE (SELECT display FROM pgc._type_names WHERE oid = t) END",
    "CREATE MACRO pgw_relname(x) AS (SELECT relname FROM pgc.pg_class WHERE oid = x)",
    "CREATE MACRO pgw_class_oid(name) AS (SELECT oid FROM pgc.pg_class WHERE relname = "
    "regexp_replace(replace(name, '\"', ''), '^(public|pg_catalog)\\.', ''))",
    "CREATE MACRO pgw_type_oid(name) AS (SELECT oid FROM pgc._type_names t "
    "WHERE t.display = lower(name) OR t.oid IN (SELECT oid FROM pgc.pg_type "
    "WHERE typname = lower(regexp_replace(name, '^pg_catalog\\.', ''))) LIMIT 1)",
    "CREATE MACRO pgw_nspname(x) AS (SELECT nspname FROM pgc.pg_namespace WHERE oid = x)",
    "CREATE MACRO pgw_namespace_oid(name) AS "
    "(SELECT oid FROM pgc.pg_namespace WHERE nspname = name)",
    "CREATE MACRO pgw_obj_description(x) AS "
    "(SELECT description FROM pgc.pg_description WHERE objoid = x AND objsubid = 0)",
]


def type_rows() -> list[tuple[object, ...]]:
    """pg_type rows: every type results are sent as, and its array type."""
    rows: list[tuple[object, ...]] = []
    for t in pgtypes.TYPES.values():
        rows.append(_type_row(t.oid, t.typname, t.size, t.category, 0, t.array_oid))
        rows.append(_type_row(t.array_oid, "_" + t.typname, -1, "A", t.oid, 0))
    return rows


def _type_row(oid: int, name: str, size: int, category: str, elem: int,
              array: int) -> tuple[object, ...]:
    collation = DEFAULT_COLLATION_OID if category == "S" else 0
    io = "array" if category == "A" else name
    return (oid, name, PG_CATALOG_OID, OWNER_OID, size, 0 < size <= 8, "b", category, False,
            True, ",", 0, None, elem, array, f"{io}_in", f"{io}_out", f"{io}_recv",
            f"{io}_send", None, None, None, "i", "p" if size > 0 else "x", False, 0, -1, 0,
            collation, None, None, None)


def type_name_rows() -> list[tuple[object, ...]]:
    """(oid, format_type spelling) of every type and array type."""
    rows: list[tuple[object, ...]] = []
    for t in pgtypes.TYPES.values():
        rows.append((t.oid, t.display))
        rows.append((t.array_oid, t.display + "[]"))
    return rows


FIXED_ROWS: dict[str, list[tuple[object, ...]]] = {
    "pg_namespace": [(PG_CATALOG_OID, "pg_catalog", OWNER_OID, None),
                     (PUBLIC_OID, "public", OWNER_OID, None),
                     (INFORMATION_SCHEMA_OID, "information_schema", OWNER_OID, None)],
    "pg_am": [(HEAP_AM_OID, "heap", "heap_tableam_handler", "t")],
    "pg_collation": [(DEFAULT_COLLATION_OID, "default", PG_CATALOG_OID, OWNER_OID, "d", True,
                      -1, None, None)],
    "pg_tablespace": [(1663, "pg_default", OWNER_OID, None, None)],
    "pg_language": [(12, "internal", OWNER_OID, False), (14, "sql", OWNER_OID, False)],
}
