"""How the Django layer works (not import paths to rely on): the JOBQUEUE setting parsed once
(``settings``), a Redis client per connection per process (``clients``), the queues and
workers built from settings (``queues``, ``worker``), and the counts of every configured
queue (``overview``)."""
