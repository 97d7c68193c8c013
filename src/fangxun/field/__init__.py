"""Field work (issue 22): river reaches, patrol plans and patrols (河道巡查) with their GPS tracks
and findings, and the ledger of client keys that makes offline submissions apply once."""
