"""A training run, by concern: its work folder (``workdir.py``), what it checks and prepares before
writing anything (``prepare.py``), the fit itself (``fit.py``), the end of it: evaluation and the bundle
(``finish.py``), and several processes (``launch.py``). ``finetune/driver.py`` holds the output's lock
around them and keeps a stopped run resumable."""
