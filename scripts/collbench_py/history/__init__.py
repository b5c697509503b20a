"""collbench-history: a store of collbench runs over time, change points, a static site.

Modules:
  store       the SQLite file: schema, version table, locking, queries
  ingest      reading result files into the store (one transaction per file)
  changepoint E-Divisive means on ranks with a permutation test
  analysis    series from the store, change points per series, provenance differences
  report      text, Markdown and JSON of the changes
  site        the static HTML dashboard (SVG drawn here, no chart library)
  synth       synthetic histories from measured noise (tests and the benchmark)
  bench       timing of ingest/changes/site and the detection rates
  cli         the command line

Like the rest of collbench_py, nothing here imports numpy at module load except the
modules that compute (changepoint, analysis, synth, bench).
"""

PROG = "collbench-history"
