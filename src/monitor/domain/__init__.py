"""The domain: pure deciders. Each takes a state folded from events and a command, and
returns the events to record or refuses with :class:`monitor.errors.CommandRejected`; none
touches a database, the network, a read model or an interface (an import-linter contract
in pyproject.toml holds them to it).

- :mod:`.commitment`: a commitment's status, notes, corrections, the two clocks
- :mod:`.catalogue`: the catalogue file against the journal (register, revise, retire)
- :mod:`.review`: accepting or rejecting a proposed match, undoing a decision
- :mod:`.stories`: which items tell the same story
- :mod:`.check_plan`: what one check of a source records (items, matches, health)
- :mod:`.digest_schedule`: which digests are due, claimed and sent
"""
