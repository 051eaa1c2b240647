"""Measuring tools beside the exporter, not steps of an export: `python -m export bench` (bench, bench_worker,
bench_corpus) and the fp16 error census (fp16_sources, coreml_fp16_sources)."""
