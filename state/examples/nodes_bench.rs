//! The many-nodes benchmarks of the state layer (issue 16), PostgreSQL against SQLite in the
//! same run. Run by `scripts/bench/nodes.sh`; prints its figures and appends nothing.
//!
//! - `claims`: seeds N synthetic jobs (`job_create`, no pages, no OCR), then P processes × T
//!   threads claim them (`job_claim`) and complete them (`job_transition` processing →
//!   processed, guarded by the claim) until the queue is empty. Claims per second, p50/p99 of
//!   the claim call, and double claims, counted three ways: a job handed to two claimers, a
//!   job with more than one `job.processing` event in the audit log, a job with more than one
//!   `job.processed` event. Any double claim, lost job or broken chain fails the run.
//! - `audit`: W writers append `audit.note` events for a fixed time, once as W processes (one
//!   connection each: several nodes) and once as W threads of one process (one daemon).
//!   Appends per second and p50/p99 per append; `verify_audit` must pass afterwards.
//!
//! PostgreSQL is a throwaway cluster (`quire_testkit::postgres`) with fsync on and
//! `synchronous_commit = off`, the same crash guarantee as Quire's SQLite (WAL,
//! `synchronous = NORMAL`). The processes are this program again (`child`), started by the
//! parent and released together once every one has opened its database.
//!
//! ```text
//! nodes_bench [claims|audit|all] [--jobs 10000] [--procs 4] [--threads 16]
//!             [--writers 8] [--seconds 10] [--pool N] [--queue-index]
//! ```
//!
//! `--queue-index` is an experiment, not Quire's schema: it adds an index on
//! `jobs(state, created_at, id)` before seeding, the order `job_claim` takes the oldest
//! received job in (the schema indexes `state` alone, so each claim sorts every waiting job).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quire_state::{
    Action, AuditFilter, Db, Job, JobPatch, JobState, NewEvent, StateError, Timestamp,
};
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }

    fn parse(s: &str) -> Result<Backend> {
        match s {
            "postgres" => Ok(Backend::Postgres),
            "sqlite" => Ok(Backend::Sqlite),
            _ => Err(format!("unknown backend {s}").into()),
        }
    }

    /// Opens the database at `target` (a URL or a file) with a pool of `pool` connections.
    fn open(self, target: &str, pool: u32) -> Result<Db> {
        Ok(match self {
            Backend::Postgres => quire_state::open_postgres(target, pool)?,
            Backend::Sqlite => quire_state::open_sqlite(Path::new(target))?,
        })
    }
}

struct Options {
    what: String,
    jobs: usize,
    procs: usize,
    threads: usize,
    writers: usize,
    seconds: f64,
    pool: Option<u32>,
    queue_index: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        what: "all".into(),
        jobs: 10_000,
        procs: 4,
        threads: 16,
        writers: 8,
        seconds: 10.0,
        pool: None,
        queue_index: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--jobs" => o.jobs = value()?.parse()?,
            "--procs" => o.procs = value()?.parse()?,
            "--threads" => o.threads = value()?.parse()?,
            "--writers" => o.writers = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--pool" => o.pool = Some(value()?.parse()?),
            "--queue-index" => o.queue_index = true,
            "claims" | "audit" | "all" => o.what = a.clone(),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = if args.first().map(String::as_str) == Some("child") {
        child(&args[1..])
    } else {
        options(&args).and_then(|o| parent(&o))
    };
    if let Err(e) = run {
        eprintln!("nodes_bench: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: the databases, the seeding, the children, the checks and the figures.

fn parent(o: &Options) -> Result<()> {
    let cluster = quire_testkit::postgres::Cluster::start_with(quire_testkit::postgres::DURABLE)?;
    let dir = tempfile::Builder::new()
        .prefix("quire-nodes-bench-")
        .tempdir()?;
    let url = |name: &str| -> Result<String> {
        cluster.psql(&format!("CREATE DATABASE {name}"))?;
        Ok(format!(
            "postgres://{}@127.0.0.1:{}/{name}",
            quire_testkit::postgres::USER,
            cluster.port()
        ))
    };
    println!(
        "nodes_bench: PostgreSQL {} (fsync on, synchronous_commit off) vs SQLite {} (WAL, synchronous NORMAL); {} cores",
        cluster.psql("SHOW server_version")?,
        rusqlite_version(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if o.what == "claims" || o.what == "all" {
        let pool = o.pool.unwrap_or(o.threads as u32);
        println!(
            "\nclaims: {} jobs, {} processes x {} threads = {} claimers (claim, then complete with the claim guard); PostgreSQL pool {pool} per process",
            o.jobs,
            o.procs,
            o.threads,
            o.procs * o.threads
        );
        let pg = claims(Backend::Postgres, &url("claims")?, o, pool)?;
        let lite = claims(
            Backend::Sqlite,
            &dir.path().join("claims.db").display().to_string(),
            o,
            pool,
        )?;
        println!(
            "claims ratio postgres/sqlite: {:.2}x claims/s, p99 claim {:.2}x",
            pg.rate / lite.rate,
            pg.p99 / lite.p99
        );
    }
    if o.what == "audit" || o.what == "all" {
        println!(
            "\naudit: {} writers appending audit.note for {:.0} s each run",
            o.writers, o.seconds
        );
        let mut rates = HashMap::new();
        for (shape, procs, threads) in [
            ("processes", o.writers, 1),
            ("threads of one process", 1, o.writers),
        ] {
            for backend in [Backend::Postgres, Backend::Sqlite] {
                let name = format!("audit_{}_{}", backend.name(), procs);
                let target = match backend {
                    Backend::Postgres => url(&name)?,
                    Backend::Sqlite => dir.path().join(format!("{name}.db")).display().to_string(),
                };
                let rate = audit(backend, &target, procs, threads, o.seconds, shape)?;
                rates.insert((backend, procs), rate);
            }
            println!(
                "audit ratio postgres/sqlite ({shape}): {:.2}x",
                rates[&(Backend::Postgres, procs)] / rates[&(Backend::Sqlite, procs)]
            );
        }
    }
    Ok(())
}

fn rusqlite_version() -> String {
    rusqlite::version().to_string()
}

/// One child process, started and waiting for the word to go.
struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// Starts `procs` children with `args`, waits until each has opened its database, releases
/// them together, and returns each one's result and the wall time from release to the last
/// result.
fn run_children(procs: usize, args: &[String]) -> Result<(Vec<Value>, Duration)> {
    let exe = std::env::current_exe()?;
    let mut running = Vec::new();
    for p in 0..procs {
        let mut child = Command::new(&exe)
            .arg("child")
            .args(args)
            .arg("--proc")
            .arg(p.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        running.push(Running {
            child,
            stdin,
            stdout,
        });
    }
    for r in &mut running {
        let mut line = String::new();
        r.stdout.read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(format!("a child did not start: {line:?}").into());
        }
    }
    let start = Instant::now();
    for r in &mut running {
        r.stdin.write_all(b"go\n")?;
        r.stdin.flush()?;
    }
    let mut results = Vec::new();
    let mut wall = Duration::ZERO;
    for mut r in running {
        let mut line = String::new();
        r.stdout.read_line(&mut line)?;
        wall = wall.max(start.elapsed());
        let status = r.child.wait()?;
        if !status.success() || line.trim().is_empty() {
            return Err(format!("a child failed ({status})").into());
        }
        results.push(serde_json::from_str(&line)?);
    }
    Ok((results, wall))
}

struct Figures {
    rate: f64,
    p99: f64,
}

fn synthetic_job(n: usize) -> Job {
    let id = format!("job_bench_{n:06}");
    Job {
        request_id: None,
        state: JobState::Received,
        hold_reason: None,
        source_name: format!("{id}.pdf"),
        spool_path: format!("spool/{id}.pdf"),
        source_sha256: format!("{n:064x}"),
        page_count: None,
        report_json: None,
        output_sha256: None,
        error_code: None,
        error_message: None,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
        parent_job: None,
        claimed_by: None,
        lease_until: None,
        custody: Vec::new(),
        id,
    }
}

fn claims(backend: Backend, target: &str, o: &Options, pool: u32) -> Result<Figures> {
    let db = backend.open(target, 4)?;
    if o.queue_index {
        const SQL: &str = "CREATE INDEX jobs_queue_experiment ON jobs(state, created_at, id)";
        match backend {
            Backend::Postgres => {
                postgres::Client::connect(target, postgres::NoTls)?.batch_execute(SQL)?
            }
            Backend::Sqlite => rusqlite::Connection::open(target)?.execute_batch(SQL)?,
        }
        println!(
            "{:<8} (experiment: with an index on jobs(state, created_at, id))",
            backend.name()
        );
    }
    let seeded = Instant::now();
    // Seeded by four threads: it is set-up, not measured.
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let db = db.clone();
                s.spawn(move || -> std::result::Result<(), StateError> {
                    for n in (t..o.jobs).step_by(4) {
                        let job = synthetic_job(n);
                        let event = NewEvent::new("daemon", Action::JobReceived)
                            .subject("job", job.id.as_str())
                            .details(json!({ "source": job.source_name }));
                        db.job_create(&job, event)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "a seeding thread panicked")??;
        }
        Ok(())
    })?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let args = vec![
        "claims".to_string(),
        backend.name().into(),
        target.into(),
        "--threads".into(),
        o.threads.to_string(),
        "--pool".into(),
        pool.to_string(),
    ];
    let (results, wall) = run_children(o.procs, &args)?;

    // What the claimers say they got.
    let mut latencies = Vec::new();
    let mut handed: HashMap<String, usize> = HashMap::new();
    let mut refused = 0u64;
    for r in &results {
        for c in r["claims"].as_array().ok_or("bad child result")? {
            *handed
                .entry(c[0].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
            latencies.push(c[1].as_f64().unwrap_or(0.0));
        }
        refused += r["refused"].as_u64().unwrap_or(0);
    }
    // What the audit log says happened.
    let mut processing: HashMap<String, usize> = HashMap::new();
    let mut processed: HashMap<String, usize> = HashMap::new();
    db.audit_scan(&AuditFilter::default(), &mut |e| {
        let job = e.subjects["job"].as_str().unwrap_or_default().to_string();
        match e.action.as_str() {
            "job.processing" => *processing.entry(job).or_default() += 1,
            "job.processed" => *processed.entry(job).or_default() += 1,
            _ => {}
        }
        Ok(())
    })?;
    let twice = |m: &HashMap<String, usize>| m.values().filter(|&&n| n > 1).count();
    let left = db
        .jobs_list(&quire_state::JobFilter {
            states: vec![JobState::Received, JobState::Processing],
            limit: 0,
            ..Default::default()
        })?
        .len();
    let done = db
        .jobs_list(&quire_state::JobFilter {
            states: vec![JobState::Processed],
            limit: 0,
            ..Default::default()
        })?
        .len();
    let verified = quire_state::verify_audit(&*db, None)?.is_ok();

    let claims = latencies.len();
    let rate = claims as f64 / wall.as_secs_f64();
    let (p50, p99) = (
        percentile(&mut latencies, 0.50),
        percentile(&mut latencies, 0.99),
    );
    let doubles = twice(&handed) + twice(&processing) + twice(&processed);
    println!(
        "{:<8} {:>8.0} claims/s  ({claims} claimed and completed in {:.2} s; seeding took {seed_secs:.1} s)  claim p50 {p50:.2} ms  p99 {p99:.2} ms",
        backend.name(),
        rate,
        wall.as_secs_f64()
    );
    println!(
        "         double claims: {} handed out twice, {} jobs with two job.processing events, {} completed twice; completions refused by the claim guard {refused}; left in the queue {left}; processed {done}/{}; audit chain {}",
        twice(&handed),
        twice(&processing),
        twice(&processed),
        o.jobs,
        if verified { "verifies" } else { "BROKEN" }
    );
    if doubles != 0
        || refused != 0
        || left != 0
        || done != o.jobs
        || claims != o.jobs
        || processing.len() != o.jobs
        || !verified
    {
        return Err(format!("{}: the claim run is not exactly-once", backend.name()).into());
    }
    Ok(Figures { rate, p99 })
}

fn audit(
    backend: Backend,
    target: &str,
    procs: usize,
    threads: usize,
    seconds: f64,
    shape: &str,
) -> Result<f64> {
    let db = backend.open(target, 2)?;
    let before = count_events(&db)?;
    let args = vec![
        "audit".to_string(),
        backend.name().into(),
        target.into(),
        "--threads".into(),
        threads.to_string(),
        "--pool".into(),
        threads.to_string(),
        "--seconds".into(),
        seconds.to_string(),
    ];
    let (results, wall) = run_children(procs, &args)?;
    let mut latencies = Vec::new();
    for r in &results {
        for l in r["latencies"].as_array().ok_or("bad child result")? {
            latencies.push(l.as_f64().unwrap_or(0.0));
        }
    }
    let appended = latencies.len();
    let stored = count_events(&db)? - before;
    let verified = quire_state::verify_audit(&*db, None)?.is_ok();
    let rate = appended as f64 / wall.as_secs_f64();
    let (p50, p99) = (
        percentile(&mut latencies, 0.50),
        percentile(&mut latencies, 0.99),
    );
    println!(
        "{:<8} {:>8.0} appends/s  ({appended} in {:.2} s, {shape})  append p50 {p50:.2} ms  p99 {p99:.2} ms  stored {stored}  audit verify {}",
        backend.name(),
        rate,
        wall.as_secs_f64(),
        if verified { "passes" } else { "FAILS" }
    );
    if !verified || stored != appended {
        return Err(format!("{}: the audit run lost or broke events", backend.name()).into());
    }
    Ok(rate)
}

fn count_events(db: &Db) -> Result<usize> {
    let mut n = 0;
    db.audit_scan(&AuditFilter::default(), &mut |_| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// The `q` quantile of milliseconds (nearest rank).
fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

// ---------------------------------------------------------------------------------------------
// A child: opens the database, says `ready`, waits for `go`, works, prints one JSON line.

fn child(args: &[String]) -> Result<()> {
    let [kind, backend, target, rest @ ..] = args else {
        return Err("child: kind, backend and target expected".into());
    };
    let backend = Backend::parse(backend)?;
    let (mut threads, mut pool, mut seconds, mut proc) = (1usize, 1u32, 0.0f64, 0usize);
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--threads" => threads = v.parse()?,
            "--pool" => pool = v.parse()?,
            "--seconds" => seconds = v.parse()?,
            "--proc" => proc = v.parse()?,
            _ => return Err(format!("child: unknown argument {a}").into()),
        }
    }
    let db = backend.open(target, pool)?;
    // Each thread's first call would otherwise open its pool connection inside the timing.
    if backend == Backend::Postgres {
        std::thread::scope(|s| {
            for _ in 0..threads {
                let db = db.clone();
                s.spawn(move || db.ping());
            }
        });
    }
    println!("ready");
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;

    let out = match kind.as_str() {
        "claims" => claim_until_empty(&db, proc, threads)?,
        "audit" => append_for(&db, proc, threads, Duration::from_secs_f64(seconds))?,
        _ => return Err(format!("child: unknown kind {kind}").into()),
    };
    println!("{out}");
    Ok(())
}

fn claim_until_empty(db: &Db, proc: usize, threads: usize) -> Result<Value> {
    let per_thread = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = Arc::clone(db);
                s.spawn(
                    move || -> std::result::Result<(Vec<Value>, u64), StateError> {
                        let node = format!("bench-p{proc}-t{t}");
                        let (mut claims, mut refused) = (Vec::new(), 0u64);
                        loop {
                            let lease = Timestamp::now() + time::Duration::seconds(300);
                            let started = Instant::now();
                            let Some(job) = db.job_claim(&node, lease)? else {
                                break;
                            };
                            let ms = started.elapsed().as_secs_f64() * 1000.0;
                            let done = db.job_transition(
                                &job.id,
                                &[JobState::Processing],
                                JobState::Processed,
                                JobPatch {
                                    claimed_by: Some(node.clone()),
                                    page_count: Some(1),
                                    ..Default::default()
                                },
                                NewEvent::new("daemon", Action::JobProcessed)
                                    .subject("job", job.id.as_str())
                                    .details(json!({ "node": node })),
                            );
                            match done {
                                Ok(_) => {}
                                Err(StateError::Conflict(_)) => refused += 1,
                                Err(e) => return Err(e),
                            }
                            claims.push(json!([job.id, ms]));
                        }
                        Ok((claims, refused))
                    },
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StateError::Callback("panic".into())))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
    })?;
    let mut claims = Vec::new();
    let mut refused = 0;
    for (c, r) in per_thread {
        claims.extend(c);
        refused += r;
    }
    Ok(json!({ "claims": claims, "refused": refused }))
}

fn append_for(db: &Db, proc: usize, threads: usize, limit: Duration) -> Result<Value> {
    let per_thread = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = Arc::clone(db);
                s.spawn(move || -> std::result::Result<Vec<f64>, StateError> {
                    let start = Instant::now();
                    let mut latencies = Vec::new();
                    while start.elapsed() < limit {
                        let started = Instant::now();
                        db.audit_append(
                            NewEvent::new("bench", Action::AuditNote)
                                .subject("writer", format!("p{proc}-t{t}"))
                                .details(json!({ "n": latencies.len() })),
                        )?;
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StateError::Callback("panic".into())))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
    })?;
    Ok(json!({ "latencies": per_thread.into_iter().flatten().collect::<Vec<_>>() }))
}
