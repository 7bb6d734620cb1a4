//! The allocator's side of the memory budget (issue 15). The binary's global allocator is
//! mimalloc (`src/main.rs`), built without transparent huge pages (`no_thp`: 2 MiB pages made a
//! 4,250-event batch cost 11 MiB more RSS for no measurable speed). mimalloc keeps freed pages
//! for a while (1 s by default) before it gives them back, which is fast for small blocks but
//! kept the pages of a freed 6 MB payload resident while the objects were being built:
//! [`release_freed`] hands them back at once, at the few points where the pipeline has just
//! dropped a large buffer. Measured in BENCHMARKS.md ("Issue 15").

/// Returns the pages of freed memory to the operating system now (`mi_collect(true)`). A no-op
/// for memory that is not mimalloc's (a process whose global allocator is another one).
pub fn release_freed() {
    // SAFETY: mi_collect takes no pointers and may be called at any time from any thread; it
    // only frees pages that hold no live block.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
