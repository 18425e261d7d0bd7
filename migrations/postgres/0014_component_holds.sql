-- A component-wide hold on refreshes ("system busy", "over quota", or no component token to
-- refresh its authorizers with) is one row's business. It used to be written into every
-- credential of the component: 20,000 rows per component at a million accounts, rewritten by
-- every claim that met the hold, which stalled the million-account soak (docs/benchmarks.md).
-- The claim query skips the held component's credentials instead.
ALTER TABLE components ADD COLUMN refreshes_held_until BIGINT;
ALTER TABLE components ADD COLUMN authorizers_held_until BIGINT;
