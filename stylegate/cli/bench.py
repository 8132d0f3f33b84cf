"""`stylegate bench`: speed and detection figures on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from stylegate.errors import InputError, StylegateError
from stylegate.output import emit_json, message, show

from ._common import JsonOpt, cli_state, handled

app = typer.Typer(help="Measure speed and detection on this machine (figures, not pass/fail).")


@app.callback(invoke_without_command=True)
@handled
def bench(
    ctx: typer.Context,
    artists: int = typer.Option(1000, "--artists", help="Artists registered for the prompt-check benchmark."),
    vectors: int = typer.Option(100_000, "--vectors", help="Synthetic vectors for the FAISS benchmark."),
    queries: int = typer.Option(200, "--queries", help="Queries per measurement."),
    cold_runs: int = typer.Option(5, "--cold-runs", min=0, help="Fresh-process runs of `check prompt` for the cold start (0: skip)."),
    as_json: bool = JsonOpt,
) -> None:
    """Cold start of a one-shot check, check latency and throughput, and FAISS speed and recall."""
    if ctx.invoked_subcommand is not None:
        return
    from stylegate.bench.coldstart import print_coldstart, run_coldstart_bench
    from stylegate.bench.index import print_results, run_core_bench

    cold = run_coldstart_bench(repeats=cold_runs) if cold_runs else None
    results = run_core_bench(n_artists=artists, n_vectors=vectors, n_queries=queries, device=cli_state().device or "cpu")
    if cold is not None:
        results["cold_start"] = cold
    if as_json:
        emit_json(results)
    else:
        if cold is not None:
            print_coldstart(cold)
        print_results(results)


@app.command("generate")
@handled
def bench_generate(
    steps: int = typer.Option(25, "--steps", min=2, max=200, help="Denoising steps per image."),
    prompts: int = typer.Option(8, "--prompts", min=1, max=64, help="Prompts per measurement."),
    as_json: bool = JsonOpt,
) -> None:
    """Gate overhead on the StyleWorld pipeline and denoising steps saved by early abort."""
    from stylegate.bench.generate import print_generation_bench, run_generation_bench

    results = run_generation_bench(steps=steps, n_prompts=prompts, log=message)
    show(results, as_json, print_generation_bench)


@app.command("steer")
@handled
def bench_steer(
    steps: int = typer.Option(25, "--steps", min=2, max=200, help="Denoising steps per image."),
    seeds: int = typer.Option(1, "--seeds", min=1, max=8, help="Seeds per steered prompt."),
    negative_prompt: str = typer.Option("retry", "--negative-prompt", help="always | retry | never (the policy setting)."),
    subjects: int = typer.Option(0, "--subjects", min=0, max=8, help="Only the first N StyleWorld subjects (0: all 8)."),
    candidates: int = typer.Option(0, "--candidates", min=0, max=16,
                                   help="Subject candidates per attempt (0: the policy's; 1: no subject check)."),
    retry_guidance_step: float = typer.Option(-1.0, "--retry-guidance-step", min=-1.0, max=10.0,
                                              help="Guidance added per steered retry (-1: the policy's; 0: keep it)."),
    as_json: bool = JsonOpt,
) -> None:
    """Steering as an unlearning benchmark: style removed, subject kept, other styles kept."""
    from stylegate.bench.steer import print_steer_bench, run_steer_bench

    if negative_prompt not in ("always", "retry", "never"):
        raise InputError(f"--negative-prompt must be always, retry or never (got {negative_prompt!r})")
    results = run_steer_bench(steps=steps, seeds=seeds, negative_prompt=negative_prompt, subjects=subjects or None,
                              candidates=candidates or None,
                              retry_guidance_step=None if retry_guidance_step < 0 else retry_guidance_step, log=message)
    show(results, as_json, print_steer_bench)


@app.command("attribution")
@handled
def bench_attribution(
    steps: int = typer.Option(25, "--steps", min=2, max=200, help="Denoising steps per image."),
    seeds: int = typer.Option(3, "--seeds", min=1, max=16, help="Seeds per prompt (stability needs 2 or more)."),
    subjects: int = typer.Option(8, "--subjects", min=1, max=8, help="StyleWorld subjects per artist (prompts scale with it)."),
    as_json: bool = JsonOpt,
) -> None:
    """Royalty attribution against StyleWorld's ground truth: right artist's share, no-style credits, stability."""
    from stylegate.bench.attribution import print_attribution_bench, run_attribution_bench

    results = run_attribution_bench(steps=steps, seeds=seeds, subjects=subjects, log=message)
    show(results, as_json, print_attribution_bench)


@app.command("redteam")
@handled
def bench_redteam(
    artists: int = typer.Option(10_000, "--artists", help="Synthetic artists registered beside the corpus artists for the speed test."),
    gate: bool = typer.Option(True, "--gate/--lexical-only", help="Also run the corpus through the whole gate (CLIP semantics included)."),
    as_json: bool = JsonOpt,
) -> None:
    """Red-team corpora (StyleWorld and real names): detection per attack type, false positives, speed."""
    from stylegate.bench.realnames import print_realnames, run_realnames
    from stylegate.bench.redteam import print_redteam, run_redteam

    results = run_redteam(n_synthetic_artists=artists, gate=gate, device=cli_state().device or "cpu", progress=message)
    message("real-names corpus")
    results["realnames"] = run_realnames()
    if as_json:
        emit_json(results)
    else:
        print_redteam(results)
        print_realnames(results["realnames"])


@app.command("names")
@handled
def bench_names(
    sizes: str = typer.Option("10000,100000,1000000", "--sizes", help="Comma-separated numbers of registered names."),
    refresh_artists: int = typer.Option(
        100_000, "--refresh-artists", min=0, max=1_000_000,
        help="Artists in the registry for the refresh figure (a change seen by a running gate; 0: skip)."),
    refresh_works: bool = typer.Option(
        True, "--refresh-works/--no-refresh-works",
        help="Give every refresh artist a work and time works added and withdrawn by another workspace."),
    as_json: bool = JsonOpt,
) -> None:
    """Name matcher at scale: build time, memory, p99 screening latency, add/remove time; refresh latency."""
    from stylegate.bench.names import print_names_bench, run_names_bench
    from stylegate.bench.refresh import measure_refresh, print_refresh

    try:
        counts = [int(part) for part in sizes.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter("--sizes takes comma-separated whole numbers, e.g. 10000,100000") from None
    if not counts or any(n < 1 or n > 5_000_000 for n in counts):
        raise typer.BadParameter("each size must be between 1 and 5,000,000")
    results = run_names_bench(counts, progress=message)
    refresh = measure_refresh(refresh_artists, say=message, works=refresh_works) if refresh_artists else None
    if as_json:
        emit_json({"sizes": results, "refresh": refresh})
    else:
        print_names_bench(results)
        if refresh is not None:
            print_refresh(refresh)


@app.command("statements")
@handled
def bench_statements(
    entries: int = typer.Option(10_000, "--entries", min=1, max=10_000_000, help="Attributed generations written to the log."),
    artists: int = typer.Option(10, "--artists", min=1, max=10_000, help="Royalty and credit artists."),
    as_json: bool = JsonOpt,
) -> None:
    """Issue and verify royalty statements over a synthetic audit log: issue time, verify times."""
    from stylegate.bench.statements import print_statements_bench, run_statements_bench

    result = run_statements_bench(entries, artists)
    show(result, as_json, print_statements_bench)
    if not (result["standalone_ok"] and result["workspace_ok"]):
        raise StylegateError("an issued statement did not verify")


@app.command("bulk")
@handled
def bench_bulk(
    items: int = typer.Option(10_000, "--items", min=1, max=10_000, help="Names and prompts in each bulk request."),
    artists: int = typer.Option(1000, "--artists", min=30, max=1_000_000, help="Artists registered."),
    as_json: bool = JsonOpt,
) -> None:
    """Bulk name lookup and bulk prompt check over HTTP on loopback: items per second."""
    from stylegate.bench.bulk import print_bulk_bench, run_bulk_bench

    results = run_bulk_bench(items=items, artists=artists, device=cli_state().device or "cpu")
    show(results, as_json, print_bulk_bench)


@app.command("service")
@handled
def bench_service(
    backends: str = typer.Option("sqlite,postgresql", "--backends",
                                 help="Comma-separated databases: sqlite, postgresql (skipped when not installed)."),
    workers: int = typer.Option(2, "--workers", min=1, max=16, help="Worker processes of `stylegate serve`."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=256, help="Requests in flight at once."),
    prompts: int = typer.Option(400, "--prompts", min=4, max=100_000, help="Prompt checks sent."),
    images: int = typer.Option(200, "--images", min=4, max=100_000, help="Image checks sent."),
    uploads: int = typer.Option(40, "--uploads", min=4, max=10_000, help="Uploads sent (one new work each)."),
    as_json: bool = JsonOpt,
) -> None:
    """A bounded load run against `serve --workers N` on loopback: req/s, p50/p99, 5xx, audit verify."""
    from stylegate.bench.service import print_service_bench, run_service_bench

    chosen = [b.strip() for b in backends.split(",") if b.strip()]
    if not chosen or any(b not in ("sqlite", "postgresql") for b in chosen):
        raise InputError(f"--backends takes sqlite and/or postgresql, comma-separated (got {backends!r})")
    results = run_service_bench(chosen, workers=workers, concurrency=concurrency, prompts=prompts, images=images,
                                uploads=uploads, log_line=message)
    show(results, as_json, print_service_bench)
    bad = [r["backend"] for r in results["runs"]
           if not r["audit_verify"] or not r["consistent"] or any(k["5xx"] for k in r["kinds"].values())]
    if bad:
        raise StylegateError(f"the service run on {', '.join(bad)} had 5xx answers, a failed audit verify "
                             "or an inconsistent home (see the figures)")


@app.command("index")
@handled
def bench_index(
    sizes: str = typer.Option("100000,1000000", "--sizes", help="Comma-separated numbers of synthetic works (10^7 needs ~70 GB RAM)."),
    queries: int = typer.Option(200, "--queries", min=10, max=100_000, help="Single queries per measurement."),
    dim: int = typer.Option(512, "--dim", min=8, max=4096, help="Embedding dimension (a ViT-B CLIP's is 512)."),
    threads: int = typer.Option(1, "--threads", min=1, max=256, help="FAISS (OpenMP) threads for building; queries run on one."),
    only: str = typer.Option("", "--only", help="Comma-separated candidates to measure (flat, ivf-pq+rerank, "
                             "ivf-pq+mmap-rerank, in-product; default all; Flat is always built as the truth)."),
    norm_check: int = typer.Option(20_000, "--norm-check", min=0, max=200_000,
                                   help="Compare sampled with exact style norms on this many works of the first size (0: skip)."),
    keep: Optional[Path] = typer.Option(None, "--keep", help="Keep the in-product index built at each size in this "
                                        "folder and reuse it on a later run of the same size (no rebuild)."),
    norms: bool = typer.Option(True, "--norms/--no-norms", help="Build the sampled style norms over the in-product "
                               "index's works at each size (minutes at 10^6)."),
    as_json: bool = JsonOpt,
) -> None:
    """The style index at scale: build time, memory, recall@10 and single-query p50/p99 per candidate index."""
    from stylegate.bench.index_scale import CANDIDATES, check_fits, print_index_scale, run_index_scale_bench

    chosen = [c.strip() for c in only.split(",") if c.strip()] or list(CANDIDATES)
    unknown = sorted(set(chosen) - set(CANDIDATES))
    if unknown:
        raise InputError(f"--only: unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")

    try:
        counts = [int(part) for part in sizes.split(",") if part.strip()]
    except ValueError:
        raise InputError("--sizes takes comma-separated whole numbers, e.g. 100000,1000000") from None
    if not counts or any(n < 1000 or n > 100_000_000 for n in counts):
        raise InputError("--sizes: each size must be between 1,000 and 100,000,000")
    check_fits(max(counts), dim)
    results = run_index_scale_bench(counts, n_queries=queries, dim=dim, threads=threads, progress=message,
                                    candidates=chosen, norm_check=norm_check, keep=keep,
                                    norms=norms)
    show(results, as_json, print_index_scale)


@app.command("scan")
@handled
def bench_scan(
    images: int = typer.Option(1000, "--images", min=10, max=100_000, help="StyleWorld renders to scan."),
    sample: int = typer.Option(200, "--sample", min=1, help="Images also checked one by one with `check image` (speed and agreement)."),
    workers: str = typer.Option("", "--workers", help="Comma-separated worker counts (default: 1, 2 and every local CPU)."),
    part_size: int = typer.Option(64, "--part-size", min=1, help="Images per scan part."),
    as_json: bool = JsonOpt,
) -> None:
    """Images/s of `stylegate scan` on 1, 2 and all local workers against the `check image` loop, and decision agreement."""
    from stylegate.bench.scan import print_scan_bench, run_scan_bench

    try:
        counts = [int(w) for w in workers.split(",") if w.strip()] or None
    except ValueError:
        raise InputError("--workers takes comma-separated whole numbers, e.g. 1,2") from None
    if counts is not None and any(n < 1 for n in counts):
        raise InputError("--workers: each count must be at least 1")
    results = run_scan_bench(images, sample=min(sample, images), worker_counts=counts, part_size=part_size, progress=message)
    show(results, as_json, print_scan_bench)


@app.command("calibration")
@handled
def bench_calibration(
    embedders: str = typer.Option("styleworld-clip,styleworld-clip-s", "--embedders",
                                  help="Comma-separated shipped StyleWorld CLIPs (styleworld-clip, styleworld-clip-s)."),
    splits: str = typer.Option("standard,sibling", "--splits",
                               help="standard (12 artists), sibling (12 + 10 siblings); none: only --scale."),
    works: int = typer.Option(12, "--works", min=2, max=200, help="Registered training renders per artist."),
    seeds: int = typer.Option(2, "--seeds", min=1, max=200, help="Held-out seeds per artist and subject (renders checked)."),
    far: float = typer.Option(None, "--far", min=0.0, max=1.0, help="Target FAR for calibrate (default: the policy's)."),
    scale: bool = typer.Option(False, "--scale/--no-scale", help="Also time calibrate on a synthetic workspace."),
    scale_artists: int = typer.Option(100, "--scale-artists", min=2, max=10_000),
    scale_works: int = typer.Option(50, "--scale-works", min=2, max=1000, help="Works per synthetic artist."),
    as_json: bool = JsonOpt,
) -> None:
    """Shipped vs calibrated thresholds per embedder x split on held-out StyleWorld data (issue 12)."""
    from stylegate.bench.calibration import SPLITS, print_calibration_bench, run_calibration_bench
    from stylegate.styleworld.models import SHIPPED_CLIPS

    names = [e.strip() for e in embedders.split(",") if e.strip()]
    parts = [s.strip() for s in splits.split(",") if s.strip()]
    if parts == ["none"] and scale:
        parts = []
    elif not parts or any(p not in SPLITS for p in parts):
        raise InputError(f"--splits: choose from {', '.join(SPLITS)} (or none with --scale)")
    if not names or any(n not in SHIPPED_CLIPS for n in names):
        raise InputError(f"--embedders: choose from {', '.join(SHIPPED_CLIPS)}")
    results = run_calibration_bench(names, parts, works=works, seeds=seeds, far=far,
                                    scale=(scale_artists, scale_works) if scale else None, say=message)
    show(results, as_json, print_calibration_bench)


@app.command("neardup")
@handled
def bench_neardup(
    works: int = typer.Option(12, "--works", min=2, max=200, help="Registered training renders per artist."),
    fresh_seeds: int = typer.Option(53, "--fresh-seeds", min=1, max=1000,
                                    help="Held-out seeds per artist and subject (12 x 8 x 53 = 5,088 fresh renders)."),
    fit_seeds: int = typer.Option(53, "--fit-seeds", min=1, max=1000,
                                  help="Unregistered training seeds per artist and subject for the fitted threshold (53: 5,088 renders)."),
    as_json: bool = JsonOpt,
) -> None:
    """Near-duplicate copies caught and fresh same-subject renders flagged, with enough renders to resolve 0.1%."""
    from stylegate.bench.calibration import print_neardup, run_neardup

    results = run_neardup(works=works, fresh_seeds=fresh_seeds, fit_seeds=fit_seeds, say=message)
    show(results, as_json, print_neardup)


@app.command("reports")
@handled
def bench_reports(
    entries: int = typer.Option(1_000_000, "--entries", min=1, max=20_000_000, help="Synthetic audit entries to write."),
    audit_url: Optional[str] = typer.Option(
        None, "--audit-url", help="An empty PostgreSQL database (postgresql://…) to write the log to; default: SQLite in a temp dir."),
    artists: int = typer.Option(1000, "--artists", min=1, max=1_000_000, help="Artists the entries attribute and block."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Also time a full `audit verify` of the log."),
    as_json: bool = JsonOpt,
) -> None:
    """Dashboard counters and reports over a large synthetic audit log: write rate, counter read
    p50/p99, attribution report, audit summary, recount and verify times."""
    from stylegate.bench.reports import print_reports_bench, run_reports_bench

    if audit_url is not None and not audit_url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise InputError(f"--audit-url must be a postgresql:// URL, not {audit_url!r}")
    try:
        results = run_reports_bench(entries=entries, audit_url=audit_url, artists=artists, verify=verify, log=message)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    show(results, as_json, print_reports_bench)
    if not results["recount_ok"] or results["verify_ok"] is False:
        raise StylegateError("the synthetic log's counters or verification failed")
