"""The performance harness (README "Performance", issue 7): `python -m benchmarks --help`.

Every phase of `plan`, `apply`, `resolve` and start-up is timed beside a floor
measured in the same run (the raw I/O or import the phase cannot avoid), and
reported as a ratio, medians of several runs. Against real PostgreSQL and
Redis (DATABASE_URL / REDIS_URL, else embedded) and a Kubernetes API server
(tests/fakes/kube.py in a subprocess) serving the models' Deployments and
Services. Not shipped in the wheel.
"""
