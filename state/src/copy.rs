//! `quire db copy`: moving a single-box install's SQLite database into a new PostgreSQL one,
//! everything in it, the audit chain included, so that `audit verify` passes on the copy.
//!
//! Generic over the tables: both backends have the same tables and columns (the conformance
//! suite and `tables_match` hold them to it), so each table is copied column by column,
//! converting SQLite's storage classes to the PostgreSQL column's type (0/1 to BOOLEAN, INTEGER
//! to INTEGER or BIGINT, BLOB to BYTEA). Tables are copied parents first, in the order of the
//! target's foreign keys; rows in insertion order, so that a job's batch comes before it.
//!
//! The read is one SQLite transaction (a snapshot: a daemon still writing does not tear it) and
//! the write is one PostgreSQL transaction (the target has all of it or nothing). The target
//! must be empty. Not here: moving the object store (see docs/scaling.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use postgres::types::ToSql;
use rusqlite::types::ValueRef;

use crate::StateError;

/// What was copied.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// Rows per table, in copy order.
    pub tables: Vec<(String, u64)>,
    /// The audit chain's head on the copy (equal to the source's), and its events.
    pub audit: quire_domain::Summary,
}

/// Tables the migration runners keep for themselves, never copied.
const OWN_TABLES: &[&str] = &["schema_history", "schema_migrations"];

/// Tables a new database is born with rows in (its own pseudonym salt): the source's rows
/// replace them, so that pseudonyms made before the move stay the same after it.
const SEEDED_TABLES: &[&str] = &["compliance_keys"];

/// Copies the SQLite database at `sqlite` into the empty PostgreSQL database at `url`
/// (migrated first), then checks the copy: equal row counts and the same verified audit head.
pub fn sqlite_to_postgres(sqlite: &Path, url: &str) -> Result<CopyReport, StateError> {
    // Opening migrates both to the current schema, so their tables match.
    let source_db = crate::open_sqlite(sqlite)?;
    let target_db = crate::open_postgres(url, 2)?;
    let source_head = match crate::verify_audit(&*source_db, None)? {
        Ok(summary) => summary,
        Err(b) => {
            return Err(StateError::Conflict(format!(
                "the source's audit chain does not verify (event {}: {}); not copied",
                b.seq, b.reason
            )));
        }
    };
    drop(source_db);

    let mut src = rusqlite::Connection::open_with_flags(
        sqlite,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StateError::Open {
        path: sqlite.display().to_string(),
        source,
    })?;
    let snapshot = src.transaction()?;
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| StateError::Config(format!("database URL: {e}")))?;
    let mut client = config.connect(postgres::NoTls)?;
    let mut tx = client.transaction()?;

    let target = target_tables(&mut tx)?;
    let source = source_tables(&snapshot)?;
    tables_match(&source, &target)?;
    for table in target.keys() {
        if SEEDED_TABLES.contains(&table.as_str()) {
            continue;
        }
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        if n > 0 {
            return Err(StateError::Conflict(format!(
                "the target database is not empty (table {table} has {n} rows); copy only into a new database"
            )));
        }
    }

    for table in SEEDED_TABLES {
        tx.execute(&format!("DELETE FROM {table}"), &[])?;
    }
    let mut report = Vec::new();
    for table in copy_order(&mut tx, &target)? {
        let columns = &target[&table];
        let copied = copy_table(&snapshot, &mut tx, &table, columns)?;
        report.push((table, copied));
    }
    restart_sequences(&mut tx)?;
    tx.commit()?;
    drop(snapshot);

    // The check, on what was committed.
    for (table, copied) in &report {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        if n as u64 != *copied {
            return Err(StateError::Corrupt(format!(
                "table {table}: {copied} rows copied but {n} found on the target"
            )));
        }
    }
    let audit = match crate::verify_audit(&*target_db, None)? {
        Ok(summary) => summary,
        Err(b) => {
            return Err(StateError::Corrupt(format!(
                "the copy's audit chain does not verify (event {}: {})",
                b.seq, b.reason
            )));
        }
    };
    if audit.head != source_head.head || audit.count != source_head.count {
        return Err(StateError::Corrupt(format!(
            "the copy's audit head {} ({} events) is not the source's {} ({} events)",
            audit.head, audit.count, source_head.head, source_head.count
        )));
    }
    Ok(CopyReport {
        tables: report,
        audit,
    })
}

/// Column names and PostgreSQL types (`integer`, `bigint`, `boolean`, `bytea`, `text`, ...)
/// of every table of the target, by table.
type Tables = BTreeMap<String, Vec<(String, String)>>;

fn target_tables(tx: &mut postgres::Transaction<'_>) -> Result<Tables, StateError> {
    let mut tables = Tables::new();
    for row in tx.query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
         ORDER BY c.table_name, c.ordinal_position",
        &[],
    )? {
        let table: String = row.get(0);
        if OWN_TABLES.contains(&table.as_str()) {
            continue;
        }
        tables
            .entry(table)
            .or_default()
            .push((row.get(1), row.get(2)));
    }
    Ok(tables)
}

fn source_tables(
    c: &rusqlite::Connection,
) -> Result<BTreeMap<String, BTreeSet<String>>, StateError> {
    let names: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = BTreeMap::new();
    for name in names {
        if OWN_TABLES.contains(&name.as_str()) {
            continue;
        }
        let columns: BTreeSet<String> = c
            .prepare(&format!("PRAGMA table_info({name})"))?
            .query_map([], |r| r.get(1))?
            .collect::<Result<_, _>>()?;
        tables.insert(name, columns);
    }
    Ok(tables)
}

/// Both backends must have the same tables with the same columns; anything else is a schema
/// drift that would lose data, so the copy refuses to start.
fn tables_match(
    source: &BTreeMap<String, BTreeSet<String>>,
    target: &Tables,
) -> Result<(), StateError> {
    let mut problems = Vec::new();
    for (table, columns) in source {
        match target.get(table) {
            None => problems.push(format!("table {table} is not in PostgreSQL")),
            Some(t) => {
                let t: BTreeSet<String> = t.iter().map(|(c, _)| c.clone()).collect();
                for c in columns.symmetric_difference(&t) {
                    problems.push(format!("column {table}.{c} is in one backend only"));
                }
            }
        }
    }
    for table in target.keys() {
        if !source.contains_key(table) {
            problems.push(format!("table {table} is not in SQLite"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StateError::Migration(format!(
            "the two schemas differ: {}",
            problems.join("; ")
        )))
    }
}

/// Parents before children, by the target's foreign keys (a table's reference to itself is
/// left to the rows' insertion order).
fn copy_order(
    tx: &mut postgres::Transaction<'_>,
    tables: &Tables,
) -> Result<Vec<String>, StateError> {
    let mut parents: BTreeMap<String, BTreeSet<String>> = tables
        .keys()
        .map(|t| (t.clone(), BTreeSet::new()))
        .collect();
    for row in tx.query(
        "SELECT DISTINCT child.relname::text, parent.relname::text
         FROM pg_constraint k
         JOIN pg_class child ON child.oid = k.conrelid
         JOIN pg_class parent ON parent.oid = k.confrelid
         WHERE k.contype = 'f' AND child.relnamespace = current_schema()::regnamespace",
        &[],
    )? {
        let (child, parent): (String, String) = (row.get(0), row.get(1));
        if child != parent
            && let Some(p) = parents.get_mut(&child)
        {
            p.insert(parent);
        }
    }
    let mut order = Vec::new();
    while !parents.is_empty() {
        let ready: Vec<String> = parents
            .iter()
            .filter(|(_, ps)| ps.iter().all(|p| !parents.contains_key(p)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            return Err(StateError::Migration(format!(
                "foreign keys form a cycle among {:?}",
                parents.keys().collect::<Vec<_>>()
            )));
        }
        for t in ready {
            parents.remove(&t);
            order.push(t);
        }
    }
    Ok(order)
}

/// One SQLite value as the PostgreSQL column's type wants it.
fn convert(
    value: ValueRef<'_>,
    pg_type: &str,
    at: &str,
) -> Result<Box<dyn ToSql + Sync>, StateError> {
    let wrong = |what: &str| {
        StateError::Corrupt(format!("{at}: a {what} cannot go into a {pg_type} column"))
    };
    Ok(match (value, pg_type) {
        (ValueRef::Null, "boolean") => Box::new(None::<bool>),
        (ValueRef::Null, "integer") => Box::new(None::<i32>),
        (ValueRef::Null, "bigint") => Box::new(None::<i64>),
        (ValueRef::Null, "double precision") => Box::new(None::<f64>),
        (ValueRef::Null, "bytea") => Box::new(None::<Vec<u8>>),
        (ValueRef::Null, _) => Box::new(None::<String>),
        (ValueRef::Integer(i), "boolean") => Box::new(i != 0),
        (ValueRef::Integer(i), "integer") => {
            Box::new(i32::try_from(i).map_err(|_| wrong("number beyond 32 bits"))?)
        }
        (ValueRef::Integer(i), "bigint") => Box::new(i),
        (ValueRef::Integer(i), "double precision") => Box::new(i as f64),
        (ValueRef::Integer(i), "text") => Box::new(i.to_string()),
        (ValueRef::Real(f), "double precision") => Box::new(f),
        (ValueRef::Text(t), "text") => Box::new(
            std::str::from_utf8(t)
                .map_err(|_| wrong("text that is not UTF-8"))?
                .to_string(),
        ),
        (ValueRef::Blob(b), "bytea") => Box::new(b.to_vec()),
        (ValueRef::Integer(_), _) => return Err(wrong("number")),
        (ValueRef::Real(_), _) => return Err(wrong("real number")),
        (ValueRef::Text(_), _) => return Err(wrong("text")),
        (ValueRef::Blob(_), _) => return Err(wrong("blob")),
    })
}

fn copy_table(
    src: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    columns: &[(String, String)],
) -> Result<u64, StateError> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let list = names.join(", ");
    let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = tx.prepare(&format!(
        "INSERT INTO {table} ({list}) VALUES ({})",
        params.join(", ")
    ))?;
    let mut stmt = src.prepare(&format!("SELECT {list} FROM {table} ORDER BY rowid"))?;
    let mut rows = stmt.query([])?;
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, (column, pg_type)) in columns.iter().enumerate() {
            let at = format!("{table}.{column} (row {})", copied + 1);
            values.push(convert(row.get_ref(i)?, pg_type, &at)?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(&insert, &refs)?;
        copied += 1;
    }
    Ok(copied)
}

/// Serial columns were given their ids explicitly: their sequences go on after the largest.
fn restart_sequences(tx: &mut postgres::Transaction<'_>) -> Result<(), StateError> {
    let serials = tx.query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
        &[],
    )?;
    for row in serials {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                               COALESCE((SELECT max({column}) FROM {table}), 0) + 1, false)"
            ),
            &[],
        )?;
    }
    Ok(())
}
