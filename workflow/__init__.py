"""Prefect orchestration of the host's import steps (optional extra: ``pip install .[prefect]``).

Import ``workflow.city_import`` for the ``import_city`` flow; importing this package alone
neither needs Prefect nor sets Django up.
"""
