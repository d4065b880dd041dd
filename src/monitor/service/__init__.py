"""The background service (`monitor serve`): jobs, scheduler lease, health and lifecycle.

``monitor.service.runner.serve`` runs it; the parts are small modules beside it.
"""
