"""The work of the job kinds whose ``run`` is more than a call into the library (imported when a job runs).

Each module here holds one job's heavy half and returns its result's fields; the light half (spec,
result type, ``JOB``) is ``robustune/jobs/<kind>.py``, which this half imports only for type checking.
"""
