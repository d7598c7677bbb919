"""Host-side command line: simulator, build, and (later) flash/deploy/monitor."""
