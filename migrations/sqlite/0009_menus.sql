-- Menu versions (issue 14): every menu wxhub saw or published for an account, numbered per
-- (component, account), kept after an unauthorization for the history.
--
-- source: 'fetched' (read from WeChat: on authorization, on demand, and just before a publish
-- when the live menu changed), 'published' (sent with menu/create by wxhub) or 'deleted'
-- (menu/delete: an original with no menu restored).
-- selfmenu_json / menu_get_json: what get_current_selfmenu_info and menu/get answered (fetched
-- only; menu_get_json is NULL when WeChat said 46003, no API menu).
-- menu_json: the API menu of this version: the mapped menu of a fetched one, the menu sent by a
-- published one. click_map_json: what each mapped key answers (MappedClick by key).
-- based_on_version: the version a publish started from (an edit, a roll-back, a restore).
CREATE TABLE menu_versions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id),
    component_id      INTEGER NOT NULL REFERENCES components (id),
    authorizer_appid  TEXT NOT NULL,
    version           BIGINT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('fetched', 'published', 'deleted')),
    selfmenu_json     TEXT,
    menu_get_json     TEXT,
    menu_json         TEXT NOT NULL,
    click_map_json    TEXT NOT NULL,
    based_on_version  BIGINT,
    actor_label       TEXT NOT NULL,
    note              TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    UNIQUE (component_id, authorizer_appid, version)
);
CREATE INDEX menu_versions_account ON menu_versions (tenant_id, authorizer_appid, version);
