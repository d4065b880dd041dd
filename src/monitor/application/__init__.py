"""The application layer (issue 12, being built): one module per capability, each taking a
small :class:`~monitor.application.context.Context` and the peers it names, never the
whole :class:`~monitor.core.Monitor`."""
