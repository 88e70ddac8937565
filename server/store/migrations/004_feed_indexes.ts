/**
 * Composite indexes for filter pairs. With one index per column, a filter pair with few
 * matches (a site with no in-call violations) walks the whole single-column range (~120 ms
 * at 1M rows); each pair here is an exact range, newest first, whatever the match rate.
 */
export const name = 'feed filter-pair indexes';
export const sql = `
CREATE INDEX violations_state ON violations(state, started_at DESC, seq DESC);
CREATE INDEX violations_site_state ON violations(site, state, started_at DESC, seq DESC);
CREATE INDEX violations_app_state ON violations(app, state, started_at DESC, seq DESC);
CREATE INDEX violations_site_app ON violations(site, app, started_at DESC, seq DESC);
`;
