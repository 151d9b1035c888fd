"""The store's schema: normalised tables in the spirit of the Leiden Ranking's per-publication tables.

Each table opens with what one row is. Ids are short OpenAlex ids (``W…``, ``A…``, ``I…``, ``S…``,
``T…``, ``F…``); ROR ids are the 9-character form (``02feahw73``). No primary-key constraints: the
ingest's merge keeps one row per key and tests assert it (DuckDB cannot delete and re-insert the same
key inside one transaction when a unique index exists).
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# Each row is one work, the version with the latest updated_date (ties: the later input path).
WORKS = """
CREATE TABLE IF NOT EXISTS works (
    id VARCHAR NOT NULL,
    doi VARCHAR,
    title VARCHAR,
    abstract_inverted_index VARCHAR USING COMPRESSION zstd,  -- raw JSON text as given; zstd: README
    language VARCHAR,
    type VARCHAR,                          -- stored exactly as given (legacy values kept)
    publication_year INTEGER,
    publication_date VARCHAR,
    updated_date VARCHAR,                  -- ISO text as given; compared as text
    created_date VARCHAR,
    is_retracted BOOLEAN,
    is_paratext BOOLEAN,
    is_authors_truncated BOOLEAN,
    authors_count INTEGER,                 -- number of authorships in the record
    cited_by_count INTEGER,
    counts_by_year STRUCT("year" INTEGER, cited_by_count INTEGER)[],
    fwci DOUBLE,
    citation_normalized_percentile DOUBLE,
    is_in_top_1_percent BOOLEAN,
    is_in_top_10_percent BOOLEAN,
    is_oa BOOLEAN,
    oa_status VARCHAR,
    oa_url VARCHAR,
    source_id VARCHAR,                     -- primary location's source (or legacy host_venue)
    source_name VARCHAR,
    source_type VARCHAR,
    source_issn_l VARCHAR,
    primary_topic_id VARCHAR,
    input_path VARCHAR NOT NULL,           -- provenance: the input file this version came from
    input_line BIGINT NOT NULL
)"""

# Each row is one authorship (one author position) of one work.
AUTHORSHIPS = """
CREATE TABLE IF NOT EXISTS authorships (
    work_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,             -- 0-based order in the record
    author_position VARCHAR,               -- first / middle / last
    author_id VARCHAR,
    author_name VARCHAR,
    author_orcid VARCHAR,
    raw_author_name VARCHAR,
    is_corresponding BOOLEAN,
    raw_affiliation_strings VARCHAR[],
    countries VARCHAR[],
    institutions_count INTEGER             -- distinct direct institution ids on this authorship
)"""

# Each row is one (authorship, distinct direct institution) link.
AUTHORSHIP_INSTITUTIONS = """
CREATE TABLE IF NOT EXISTS authorship_institutions (
    work_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    institution_id VARCHAR NOT NULL
)"""

# Each row is one OpenAlex institution, as last seen (in a work or an institution record).
INSTITUTIONS = """
CREATE TABLE IF NOT EXISTS institutions (
    id VARCHAR NOT NULL,
    display_name VARCHAR,
    ror VARCHAR,
    country_code VARCHAR,
    type VARCHAR,
    lineage VARCHAR[],                     -- deduplicated, order kept; includes the id itself
    seen_updated_date VARCHAR,
    seen_input_path VARCHAR,
    from_entity_record BOOLEAN             -- true when loaded from a full institution record
)"""

# Each row is one topic assigned to one work (primary topic flagged).
WORK_TOPICS = """
CREATE TABLE IF NOT EXISTS work_topics (
    work_id VARCHAR NOT NULL,
    topic_id VARCHAR,
    topic_name VARCHAR,
    score DOUBLE,
    is_primary BOOLEAN,
    subfield_id VARCHAR,
    subfield_name VARCHAR,
    field_id VARCHAR,
    field_name VARCHAR,
    domain_id VARCHAR,
    domain_name VARCHAR
)"""

# Each row is one OpenAlex SDG label on one work.
WORK_SDGS = """
CREATE TABLE IF NOT EXISTS work_sdgs (
    work_id VARCHAR NOT NULL,
    sdg INTEGER NOT NULL,
    display_name VARCHAR,
    score DOUBLE
)"""

# Each row is one reference from a work to another work.
REFERENCED_WORKS = """
CREATE TABLE IF NOT EXISTS referenced_works (
    work_id VARCHAR NOT NULL,
    referenced_work_id VARCHAR NOT NULL
)"""

# Each row is one funder / award / grant statement on one work (awards, funders and legacy grants).
WORK_FUNDING = """
CREATE TABLE IF NOT EXISTS work_funding (
    work_id VARCHAR NOT NULL,
    funder_id VARCHAR,
    funder_name VARCHAR,
    award_id VARCHAR,                      -- the funder's award number
    award_openalex_id VARCHAR,             -- G… id when OpenAlex gives one
    origin VARCHAR NOT NULL                -- awards / funders / grants
)"""

# Each row is one partner's yearly total from an API group_by call (labelled as API counts).
API_COUNTS = """
CREATE TABLE IF NOT EXISTS api_counts (
    institution_id VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,                 -- direct / lineage: which filter the call used
    year INTEGER NOT NULL,
    works_count BIGINT NOT NULL,
    filter VARCHAR NOT NULL,               -- the exact filter sent
    fetched_at TIMESTAMP NOT NULL
)"""

# Each row is one rejected input record (or unreadable stretch of a file), with where and why.
QUARANTINE = """
CREATE TABLE IF NOT EXISTS quarantine (
    input_path VARCHAR NOT NULL,
    line BIGINT,                           -- 1-based line (or row) number in the input
    record_id VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR                            -- the raw line, kept whole
)"""

# Each row is one `cordiale ingest` (or fetch) run.
INGEST_LOG = """
CREATE TABLE IF NOT EXISTS ingest_log (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,               -- files / api / snapshot
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    inputs VARCHAR[],
    files_seen INTEGER,
    files_skipped INTEGER,                 -- already ingested unchanged (incremental)
    records_read BIGINT,
    records_stored BIGINT,
    records_rejected BIGINT,
    institution_filter VARCHAR[],
    reference_complete BOOLEAN,            -- the store's state after the run (see snapshot_parts)
    status VARCHAR
)"""

# Each row is one input file committed to the store (the unit of work; used for incremental runs).
INGESTED_FILES = """
CREATE TABLE IF NOT EXISTS ingested_files (
    input_path VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    mtime DOUBLE NOT NULL,
    run_id VARCHAR NOT NULL,
    records_read BIGINT,
    records_stored BIGINT,
    records_rejected BIGINT,
    committed_at TIMESTAMP NOT NULL,
    institution_filter VARCHAR[],          -- the filter it was read under; [] none (NULL: not recorded)
    read_to_end BOOLEAN,                   -- read to its end (not cut short by truncation or corruption)
    content_hash VARCHAR                   -- BLAKE2b-128 of its bytes (NULL: a folder, no bad records)
)"""

# Whether the store is reference-complete: what its latest finished ingest found (see snapshot_parts).
LATEST_REFERENCE_COMPLETE = """
SELECT coalesce(reference_complete, false) AS rc FROM ingest_log
WHERE status IN ('done', 'done with errors')
ORDER BY coalesce(finished_at, started_at) DESC, started_at DESC LIMIT 1"""

# Columns added to ingested_files after stores were first written (added by init_schema when missing).
INGESTED_FILES_ADDED = (
    "ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS institution_filter VARCHAR[]",
    "ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS read_to_end BOOLEAN",
    "ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS content_hash VARCHAR",
)
# The columns of ingested_files, named in every insert (older stores gained them in another order).
INGESTED_FILES_COLUMNS = (
    "input_path, size, mtime, run_id, records_read, records_stored, records_rejected, committed_at, "
    "institution_filter, read_to_end, content_hash"
)

# Each row is one file a snapshot ingested into the store must have brought in whole for the store to be
# reference-complete: a works part its manifest lists, or one of its merged-ids files; or, with `problem`
# set, a reason the snapshot cannot vouch for completeness (manifest missing, unreadable, listing no
# works). Replaced for a snapshot each time that snapshot is ingested.
SNAPSHOT_PARTS = """
CREATE TABLE IF NOT EXISTS snapshot_parts (
    snapshot VARCHAR NOT NULL,             -- the snapshot's works folder
    input_path VARCHAR NOT NULL,           -- the file (absolute), or the manifest when `problem` is set
    kind VARCHAR NOT NULL,                 -- works / merged_ids / manifest
    record_count BIGINT,                   -- the manifest's record_count for the part, when given
    problem VARCHAR
)"""

# Each row is one merged-away work id (snapshot merged_ids), applied by deleting the old id.
MERGED_IDS = """
CREATE TABLE IF NOT EXISTS merged_ids (
    id VARCHAR NOT NULL,
    merge_into_id VARCHAR,
    merge_date VARCHAR
)"""

# Each row is one institution a user asked about (partners for later commands).
ASKED_INSTITUTIONS = """
CREATE TABLE IF NOT EXISTS asked_institutions (
    institution_id VARCHAR NOT NULL,
    asked_at TIMESTAMP NOT NULL
)"""

# Each row is one ROR organisation.
ROR_ORGANIZATIONS = """
CREATE TABLE IF NOT EXISTS ror_organizations (
    ror_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,                 -- the ror_display name (v2) or name (v1)
    status VARCHAR,
    types VARCHAR[],
    established INTEGER,
    country_code VARCHAR,
    country_name VARCHAR,
    city VARCHAR,
    lat DOUBLE,
    lng DOUBLE,
    schema_version VARCHAR,
    input_path VARCHAR
)"""

# Each row is one name of a ROR organisation (display name, label in a language, alias, acronym).
ROR_NAMES = """
CREATE TABLE IF NOT EXISTS ror_names (
    ror_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,                 -- ror_display / label / alias / acronym
    lang VARCHAR
)"""

# Each row is one relationship from a ROR organisation to another (parent, child, related, ...).
ROR_RELATIONS = """
CREATE TABLE IF NOT EXISTS ror_relations (
    ror_id VARCHAR NOT NULL,
    related_ror_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,                 -- parent / child / related / predecessor / successor
    related_name VARCHAR
)"""

# Each row is one external id of a ROR organisation (GRID, Wikidata, ISNI, FundRef).
ROR_EXTERNAL_IDS = """
CREATE TABLE IF NOT EXISTS ror_external_ids (
    ror_id VARCHAR NOT NULL,
    id_type VARCHAR NOT NULL,
    external_id VARCHAR NOT NULL,
    preferred BOOLEAN
)"""

# Each row is the version one field group of one work came from, kept only for works whose groups came from
# more than one record (a partial record on top of a full one); see store/merge_fields.py.
FIELD_VERSIONS = """
CREATE TABLE IF NOT EXISTS field_versions (
    work_id VARCHAR NOT NULL,
    grp VARCHAR NOT NULL,                  -- the record keys of the group, joined by '+'
    updated_date VARCHAR NOT NULL,
    input_path VARCHAR NOT NULL,
    input_line BIGINT NOT NULL
)"""

# Each row is one part: per-work rows kept as Parquet files in ``<store>.parts/<part_id>/`` (store/parts.py).
STORE_PARTS = """
CREATE TABLE IF NOT EXISTS store_parts (
    part_id VARCHAR NOT NULL,
    input_path VARCHAR NOT NULL,           -- the input file its rows came from
    works BIGINT NOT NULL,
    added_at TIMESTAMP NOT NULL
)"""

# Each row is one work held by a part (a work is held in one place: the database or one part).
PART_WORKS = """
CREATE TABLE IF NOT EXISTS part_works (
    part_id VARCHAR NOT NULL,
    id VARCHAR NOT NULL
)"""

STORE_META = """
CREATE TABLE IF NOT EXISTS store_meta (
    key VARCHAR NOT NULL,
    value VARCHAR
)"""

ALL_DDL: tuple[str, ...] = (
    WORKS,
    AUTHORSHIPS,
    AUTHORSHIP_INSTITUTIONS,
    INSTITUTIONS,
    WORK_TOPICS,
    WORK_SDGS,
    REFERENCED_WORKS,
    WORK_FUNDING,
    API_COUNTS,
    QUARANTINE,
    INGEST_LOG,
    INGESTED_FILES,
    MERGED_IDS,
    ASKED_INSTITUTIONS,
    ROR_ORGANIZATIONS,
    ROR_NAMES,
    ROR_RELATIONS,
    ROR_EXTERNAL_IDS,
    FIELD_VERSIONS,
    STORE_META,
    SNAPSHOT_PARTS,
    STORE_PARTS,
    PART_WORKS,
)

# Tables whose rows hang off one work (deleted and replaced with it).
WORK_CHILD_TABLES: tuple[str, ...] = (
    "authorships",
    "authorship_institutions",
    "work_topics",
    "work_sdgs",
    "referenced_works",
    "work_funding",
)

# The tables with a row set per work: those a part (store/parts.py) holds.
PER_WORK_TABLES: tuple[str, ...] = ("works", *WORK_CHILD_TABLES)

ROR_TABLES: tuple[str, ...] = ("ror_organizations", "ror_names", "ror_relations", "ror_external_ids")

ALL_TABLES: tuple[str, ...] = (
    "works",
    *WORK_CHILD_TABLES,
    "institutions",
    "api_counts",
    "quarantine",
    "ingest_log",
    "ingested_files",
    "snapshot_parts",
    "merged_ids",
    "field_versions",
    "asked_institutions",
    *ROR_TABLES,
    "store_meta",
    "sdg_scores",  # created by cordiale.sdg when works are scored (exported when present)
)
