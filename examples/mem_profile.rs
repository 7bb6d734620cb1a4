//! Where the memory of one invocation goes (issue 15): the handler's pipeline run stage by stage
//! on one payload file, under a counting global allocator (mimalloc inside, as in the function),
//! printing what each stage leaves live on the heap and the peak it reaches on the way:
//!
//! ```text
//! mem_profile FILE   ->  one line per stage, then the process's peak RSS (VmHWM)
//! ```
//!
//! Stages, as `pipeline::plan_payload` runs them: the payload as read; the envelope (the typed
//! SQS event: unescaped bodies, and the records' other fields while they are read); the events
//! (the lazy trees over the bodies); the plan (rows grouped and encoded into the object bodies).
//! Configuration: Segment's default mapping, or `SYNC_CONFIG` when set (the Parquet figures).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

use sync_to_s3::config::Config;
use sync_to_s3::key::Stamp;
use sync_to_s3::plan;
use sync_to_s3::source::Envelope;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static OVERALL: AtomicUsize = AtomicUsize::new(0);
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn grew(size: usize) {
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to mimalloc unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { INNER.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { INNER.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { INNER.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { INNER.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MIB: f64 = 1024.0 * 1024.0;

/// Prints the stage: what is live now, what it added, and the peak since `start`.
fn stage(name: &str, before: usize) -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    let peak = PEAK.swap(live, Ordering::Relaxed);
    OVERALL.fetch_max(peak, Ordering::Relaxed);
    let delta = live as f64 - before as f64;
    println!(
        "{name:<44} live {:>7.2} MiB  ({delta_sign}{:>6.2})  peak during {:>7.2} MiB",
        live as f64 / MIB,
        delta.abs() / MIB,
        peak as f64 / MIB,
        delta_sign = if delta < 0.0 { "-" } else { "+" },
    );
    live
}

fn vm_hwm_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let file = std::env::args().nth(1).expect("usage: mem_profile FILE");
    let document = std::env::var("SYNC_CONFIG").ok();
    let config = Config::load(document.as_deref(), "profile", &|k| {
        (k == "S3_AWS_BUCKET_NAME").then(|| "bench-bucket".to_owned())
    })
    .expect("config");
    let stamp = Stamp::from_unix_millis(1_795_478_400_000);
    let mut live = stage("start (configuration loaded)", 0);

    let payload = std::fs::read_to_string(&file).expect("read payload");
    live = stage("payload read", live);

    let Envelope::Sqs(batch) = Envelope::parse(&payload).expect("envelope") else {
        panic!("mem_profile reads SQS payloads");
    };
    let bodies: usize = batch.records.iter().map(|r| r.body.len()).sum();
    live = stage("envelope: typed SqsEvent, bodies kept", live);
    println!(
        "  {} records, bodies {:.2} MiB unescaped",
        batch.records.len(),
        bodies as f64 / MIB
    );

    let mut items = batch.items();
    live = stage("events: lazy trees over the bodies", live);

    let name = |i: u32| format!("sqs:{}", batch.records[i as usize].message_id);
    let planned =
        plan::plan(&config, &mut items.events, &items.rejected, &name, &stamp).expect("plan");
    let out: usize = planned.objects.iter().map(|o| o.body.len()).sum();
    live = stage("plan: rows grouped, objects encoded", live);
    println!(
        "  {} objects, {:.2} MiB of bodies",
        planned.objects.len(),
        out as f64 / MIB
    );

    drop(items);
    live = stage("events dropped", live);
    drop(batch);
    live = stage("envelope dropped", live);
    drop(payload);
    live = stage("payload dropped", live);
    drop(planned);
    stage("plan dropped", live);
    println!(
        "heap peak overall {:.2} MiB; process peak RSS (VmHWM) {:.2} MiB",
        OVERALL.load(Ordering::Relaxed) as f64 / MIB,
        vm_hwm_kib().unwrap_or(0) as f64 / 1024.0
    );
}
