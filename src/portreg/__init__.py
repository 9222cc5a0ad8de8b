"""portreg: a services-and-ports registry.

The public Python API for applications is `portreg.api` (`port_for`); the command line is
`portreg.cli`. Nothing else is promised to stay put.
"""

__version__ = "0.1.0"
