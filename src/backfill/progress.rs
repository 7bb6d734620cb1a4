//! Progress: a bar on a terminal, plain lines elsewhere.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

/// Progress on a terminal: an `indicatif` bar over the bytes of the selected objects, with the
/// objects done, the events and the rate, redrawn until `stop` is set; it is cleared at the end
/// (the summary follows). Elsewhere (a log, CI), plain lines every `every`
/// ([`report_progress`]).
pub async fn show_progress_bar(
    progress: Arc<Progress>,
    total_objects: u64,
    total_bytes: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let bar = indicatif::ProgressBar::new(total_bytes);
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let events = progress.events.load(Ordering::Relaxed);
        bar.set_position(progress.source_bytes.load(Ordering::Relaxed));
        bar.set_message(format!(
            "objects {}/{total_objects}, {events} events, {:.0} events/s",
            progress.objects.load(Ordering::Relaxed),
            events as f64 / started.elapsed().as_secs_f64().max(0.001)
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish_and_clear();
}

/// Progress on stderr every `every` until `stop` is set: objects, events, bytes read, the rate
/// and, from the bytes left, the time left.
pub async fn report_progress(
    progress: Arc<Progress>,
    total_objects: u64,
    total_bytes: u64,
    every: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let done_bytes = progress.source_bytes.load(Ordering::Relaxed);
        let events = progress.events.load(Ordering::Relaxed);
        let eta = if done_bytes == 0 {
            "?".to_owned()
        } else {
            let left = total_bytes.saturating_sub(done_bytes) as f64 * secs / done_bytes as f64;
            format!("{left:.0} s")
        };
        eprintln!(
            "backfill: {}/{total_objects} objects, {events} events, {:.1}/{:.1} MB read, {:.0} events/s, ETA {eta}",
            progress.objects.load(Ordering::Relaxed),
            done_bytes as f64 / 1e6,
            total_bytes as f64 / 1e6,
            events as f64 / secs,
        );
    }
}
