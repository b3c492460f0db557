-- schema.sql - the game inventory that examples/inventory_worker.c keeps in PostgreSQL.
-- Safe to apply again at any time (every statement is idempotent); apply seed.sql after it.
--
-- The web layer reads two views, which are the contract:
--   user_inventory(user_id, item_id, quantity)   one row per positive holding
--   inventory_audit(job_id, action, user_id, item_id, delta, at)   one row per change
-- Everything else is the worker's own business.

SET client_min_messages = warning; -- quiet 'already exists, skipping' on re-application

-- Ids (users, items): 1 to 64 characters from A-Z a-z 0-9 _ . : -
-- (the same as id ~ '^[A-Za-z0-9_.:-]{1,64}$', written as a length and a search for a character
-- outside the set: PostgreSQL's regular expressions run a bounded repetition such as {1,64}
-- several times slower, and this runs for every id of every job). NULL gives NULL, as STRICT
-- would say; not declared STRICT, because PostgreSQL inlines a STRICT SQL function only when its
-- body is strict too, which an AND is not, and a call that is not inlined costs far more.
CREATE OR REPLACE FUNCTION inventory_valid_id(id text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT length(id) BETWEEN 1 AND 64 AND id !~ '[^A-Za-z0-9_.:-]' $$;

-- The item catalogue (loaded by seed.sql).
CREATE TABLE IF NOT EXISTS items (
    item_id    text PRIMARY KEY CHECK (inventory_valid_id(item_id)),
    stackable  boolean NOT NULL,          -- false: a user holds at most one
    usable     boolean NOT NULL,          -- use_item may consume it
    rewardable boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT ''
);

-- What using one unit of item_id grants (welcome_chest -> 3 key, 100 gold).
CREATE TABLE IF NOT EXISTS item_effects (
    item_id       text NOT NULL REFERENCES items ON DELETE CASCADE,
    grant_item_id text NOT NULL REFERENCES items,
    quantity      integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (item_id, grant_item_id)
);

-- Current holdings. Rows may reach 0 (kept; the view hides them).
-- The user_id check is inventory_valid_id's rule written out: a CHECK runs on every write of a
-- row, and a call of the SQL function there is inlined anew (its body parsed) by every statement
-- that writes the table, while a plain expression is only read.
CREATE TABLE IF NOT EXISTS inventory (
    user_id  text NOT NULL CONSTRAINT inventory_user_id_check
                 CHECK (length(user_id) BETWEEN 1 AND 64 AND user_id !~ '[^A-Za-z0-9_.:-]'),
    item_id  text NOT NULL REFERENCES items,
    quantity integer NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (user_id, item_id)
);
-- A database made by an earlier schema.sql has the check as a call: replace it once (the rows
-- already passed the same rule, so NOT VALID skips re-reading them).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'inventory'::regclass
                   AND conname = 'inventory_user_id_check'
                   AND pg_get_constraintdef(oid) LIKE '%inventory_valid_id%') THEN
        ALTER TABLE inventory DROP CONSTRAINT inventory_user_id_check,
            ADD CONSTRAINT inventory_user_id_check
                CHECK (length(user_id) BETWEEN 1 AND 64 AND user_id !~ '[^A-Za-z0-9_.:-]') NOT VALID;
        ALTER TABLE inventory VALIDATE CONSTRAINT inventory_user_id_check;
    END IF;
END $$;

-- A non-stackable item is held at most once.
CREATE OR REPLACE FUNCTION inventory_check_stackable() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.quantity > 1 AND NOT (SELECT stackable FROM items WHERE item_id = NEW.item_id) THEN
        RAISE EXCEPTION 'item % is not stackable: user % would hold %', NEW.item_id, NEW.user_id,
            NEW.quantity USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS inventory_stackable ON inventory;
CREATE TRIGGER inventory_stackable BEFORE INSERT OR UPDATE ON inventory
    FOR EACH ROW WHEN (NEW.quantity > 1) EXECUTE FUNCTION inventory_check_stackable();

-- Every item a reward ever gave a user: the unique key makes a reward reach a user once, ever.
CREATE TABLE IF NOT EXISTS reward_grants (
    user_id    text NOT NULL,
    item_id    text NOT NULL REFERENCES items,
    job_id     text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, item_id)
);

-- One row per change of a holding: action 'reward', 'use' (negative) or 'effect'.
CREATE TABLE IF NOT EXISTS inventory_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  text NOT NULL,
    action  text NOT NULL CHECK (action IN ('reward', 'use', 'effect')),
    user_id text NOT NULL,
    item_id text NOT NULL REFERENCES items,
    delta   integer NOT NULL CHECK (delta <> 0),
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS inventory_events_user ON inventory_events (user_id, item_id);

-- Jobs whose effects are committed, with the result they completed with. Written in the same
-- transaction as the effects, so a job delivered again (same queue, id and creation time)
-- applies nothing twice and returns this result. The creation time tells a redelivery from a
-- new job that reuses an id (a queue emptied and started again against the same database).
-- `result` is json, not jsonb, so the text comes back exactly as it was first returned.
CREATE TABLE IF NOT EXISTS processed_jobs (
    queue        text NOT NULL,
    job_id       text NOT NULL,
    job_ts       bigint NOT NULL,
    name         text NOT NULL,
    result       json,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue, job_id, job_ts)
);

CREATE OR REPLACE VIEW user_inventory AS
    SELECT user_id, item_id, quantity FROM inventory WHERE quantity > 0;

CREATE OR REPLACE VIEW inventory_audit AS
    SELECT job_id, action, user_id, item_id, delta, at FROM inventory_events;

-- ---- the worker's one call per job -----------------------------------------------------------
-- inventory_apply(queue, job_id, job_ts, name, data) applies one job in one transaction: called
-- alone in autocommit mode, it is the job's only round trip to the server. It checks the
-- payload, claims the job in processed_jobs (a job delivered again returns its stored result
-- with already_applied, and applies nothing; a delivery racing with one still uncommitted waits
-- for it), applies the effects with their audit rows and stores the result with the claim.
--
-- An event that can never succeed (unknown event type, invalid payload, unknown item, a rule
-- such as an insufficient quantity) raises SQLSTATE IV001 with the reason as its message, and
-- the whole call, claim included, rolls back. Other errors keep their SQLSTATE (23xxx for a
-- constraint, 40001/40P01 under contention, ...) for the caller to classify.
--
-- `data` is the job's payload: {"userId", "items": [ids]} for reward_inventory_item,
-- {"userId", "itemId", "quantity"?} for use_item, with an optional "type" equal to the name.
-- The JSON text rules that a parsed value cannot show (duplicated keys, escaped ids) are the
-- caller's to check; inventory_worker checks them, and everything else, before it calls.

-- The payload, checked: the fields, or IV001 with the reason. `items` is the JSON array as given
-- (inventory_reward reads it; duplicates count once). No query runs unless the payload is bad.
CREATE OR REPLACE FUNCTION inventory_payload(p_name text, d jsonb,
        OUT user_id text, OUT items jsonb, OUT item_id text, OUT quantity integer)
    LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    id_rule CONSTANT text := '1 to 64 characters from A-Z a-z 0-9 _ . : -';
    bad bigint;
    num numeric;
BEGIN
    IF p_name IS DISTINCT FROM 'reward_inventory_item' AND p_name IS DISTINCT FROM 'use_item' THEN
        RAISE USING ERRCODE = 'IV001', MESSAGE = 'unknown event type: ' || coalesce(p_name, '');
    ELSIF jsonb_typeof(d) IS DISTINCT FROM 'object' THEN
        RAISE USING ERRCODE = 'IV001', MESSAGE = 'invalid payload: data must be a JSON object';
    ELSIF d ? 'type' AND d -> 'type' <> to_jsonb(p_name) THEN
        RAISE USING ERRCODE = 'IV001',
            MESSAGE = format('invalid payload: type must be "%s" when given', p_name);
    END IF;
    user_id := d ->> 'userId';
    IF jsonb_typeof(d -> 'userId') IS DISTINCT FROM 'string' OR NOT inventory_valid_id(user_id) THEN
        RAISE USING ERRCODE = 'IV001', MESSAGE = 'invalid payload: userId must be a string of ' || id_rule;
    END IF;

    IF p_name = 'reward_inventory_item' THEN
        items := d -> 'items';
        IF jsonb_typeof(items) IS DISTINCT FROM 'array'
                OR jsonb_array_length(CASE WHEN jsonb_typeof(items) = 'array' THEN items END)
                   NOT BETWEEN 1 AND 100 THEN
            RAISE USING ERRCODE = 'IV001',
                MESSAGE = 'invalid payload: items must be an array of 1 to 100 item ids';
        END IF;
        -- any element that is not an id (the rule of inventory_valid_id)? then which is first.
        -- (A string of more than 64 characters makes the array's text longer than 68.)
        IF jsonb_path_exists(items,
                '$[*] ? (@.type() != "string" || @ == "" || @ like_regex "[^A-Za-z0-9_.:-]")')
           OR (length(items::text) > 68 AND jsonb_path_exists(items, '$[*] ? (@ like_regex "^.{65}")')) THEN
            SELECT pos - 1 INTO bad FROM jsonb_array_elements(items) WITH ORDINALITY AS e(v, pos)
                WHERE jsonb_typeof(v) <> 'string' OR NOT inventory_valid_id(v #>> '{}')
                ORDER BY pos LIMIT 1;
            RAISE USING ERRCODE = 'IV001',
                MESSAGE = format('invalid payload: items[%s] must be an item id (%s)', bad, id_rule);
        END IF;
        RETURN;
    END IF;

    item_id := d ->> 'itemId';
    IF jsonb_typeof(d -> 'itemId') IS DISTINCT FROM 'string' OR NOT inventory_valid_id(item_id) THEN
        RAISE USING ERRCODE = 'IV001',
            MESSAGE = format('invalid payload: itemId must be an item id (%s)', id_rule);
    END IF;
    quantity := 1;
    IF d ? 'quantity' THEN
        num := CASE WHEN jsonb_typeof(d -> 'quantity') = 'number' THEN (d -> 'quantity')::numeric END;
        IF num IS NULL OR num NOT BETWEEN 1 AND 1000 OR num <> trunc(num) THEN
            RAISE USING ERRCODE = 'IV001',
                MESSAGE = 'invalid payload: quantity must be an integer from 1 to 1000';
        END IF;
        quantity := num;
    END IF;
END $$;

-- reward_inventory_item, in one statement: grants each requested item not yet granted to the
-- user (the unique key of reward_grants decides, ON CONFLICT DO NOTHING, so repeated and racing
-- rewards grant once), with its inventory and audit rows, and returns
-- {"granted":[...],"alreadyGranted":[...]} (compact JSON text as JSON.stringify writes it, items
-- in the order first given). Every item must exist and be rewardable: if one is not, the first
-- such in the order given is the reason, and raising it undoes the statement's writes.
CREATE OR REPLACE FUNCTION inventory_reward(p_job_id text, p_user text, p_items jsonb)
    RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    all_rewardable boolean;
    reply json;
    refused record;
BEGIN
    -- (written so that the plan has no hash table: for a few items, building one costs more
    -- than everything else the statement does)
    WITH req AS (SELECT DISTINCT ON (r.item_id) r.item_id, r.pos,
                        coalesce((SELECT i.rewardable FROM items i WHERE i.item_id = r.item_id), false) AS ok
                     FROM jsonb_array_elements_text(p_items) WITH ORDINALITY AS r(item_id, pos)
                     ORDER BY r.item_id, r.pos),
         g AS (INSERT INTO reward_grants (user_id, item_id, job_id)
                   SELECT p_user, req.item_id, p_job_id FROM req WHERE req.ok ORDER BY req.item_id
                   ON CONFLICT (user_id, item_id) DO NOTHING RETURNING item_id),
         inv AS (INSERT INTO inventory AS i (user_id, item_id, quantity)
                   SELECT p_user, g.item_id, 1 FROM g ORDER BY g.item_id
                   ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = i.quantity + 1),
         aud AS (INSERT INTO inventory_events (job_id, action, user_id, item_id, delta)
                   SELECT p_job_id, 'reward', p_user, g.item_id, 1 FROM g ORDER BY g.item_id)
    SELECT bool_and(req.ok), format('{"granted":%s,"alreadyGranted":%s}',
               to_json(coalesce(array_agg(req.item_id ORDER BY req.pos)
                                FILTER (WHERE req.item_id = ANY (gi.ids)), '{}')),
               to_json(coalesce(array_agg(req.item_id ORDER BY req.pos)
                                FILTER (WHERE NOT req.item_id = ANY (gi.ids)), '{}')))
        INTO all_rewardable, reply
        FROM req, (SELECT ARRAY(SELECT g.item_id FROM g) AS ids) gi;
    IF NOT all_rewardable THEN
        SELECT r.item_id, i.rewardable INTO refused
            FROM jsonb_array_elements_text(p_items) WITH ORDINALITY AS r(item_id, pos)
            LEFT JOIN items i ON i.item_id = r.item_id
            WHERE i.rewardable IS NOT TRUE ORDER BY r.pos LIMIT 1;
        RAISE USING ERRCODE = 'IV001', MESSAGE = CASE WHEN refused.rewardable IS NULL
            THEN 'unknown item: ' ELSE 'item cannot be rewarded: ' END || refused.item_id;
    END IF;
    RETURN reply;
END $$;

-- use_item: deducts `quantity` of a usable item if the user holds that many (one conditional
-- UPDATE: parallel uses queue on the row lock and each sees what the previous one left, so it
-- never goes below zero), then adds the item's effects `quantity` times; all audited. Returns
-- {"used":n,"remaining":n,"granted":{"item":n,...}} (compact, items in id order). When nothing
-- was deducted, the reason is found: unknown item, not usable, or not enough held.
CREATE OR REPLACE FUNCTION inventory_use(p_job_id text, p_user text, p_item text, p_quantity integer)
    RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    is_usable boolean;
    remaining integer;
    held integer;
    has_effects boolean;
    effects text;
BEGIN
    WITH u AS (UPDATE inventory inv SET quantity = inv.quantity - p_quantity
                   FROM items it
                   WHERE it.item_id = p_item AND it.usable AND inv.user_id = p_user
                     AND inv.item_id = p_item AND inv.quantity >= p_quantity
                   RETURNING inv.quantity),
         a AS (INSERT INTO inventory_events (job_id, action, user_id, item_id, delta)
                   SELECT p_job_id, 'use', p_user, p_item, -p_quantity FROM u)
    SELECT u.quantity, EXISTS (SELECT FROM item_effects e WHERE e.item_id = p_item)
        INTO remaining, has_effects FROM u;
    IF NOT FOUND THEN
        SELECT usable INTO is_usable FROM items WHERE item_id = p_item;
        IF NOT FOUND THEN
            RAISE USING ERRCODE = 'IV001', MESSAGE = 'unknown item: ' || p_item;
        ELSIF NOT is_usable THEN
            RAISE USING ERRCODE = 'IV001', MESSAGE = 'item cannot be used: ' || p_item;
        END IF;
        held := coalesce((SELECT quantity FROM inventory WHERE user_id = p_user AND item_id = p_item), 0);
        RAISE USING ERRCODE = 'IV001', MESSAGE = format(
            'insufficient quantity: user %s has %s of %s, needs %s', p_user, held, p_item, p_quantity);
    END IF;
    IF NOT has_effects THEN -- (most items: the statement below would find nothing to do)
        RETURN format('{"used":%s,"remaining":%s,"granted":{}}', p_quantity, remaining)::json;
    END IF;
    WITH eff AS (SELECT e.grant_item_id AS item_id, e.quantity * p_quantity AS delta
                     FROM item_effects e WHERE e.item_id = p_item),
         up AS (INSERT INTO inventory AS i (user_id, item_id, quantity)
                    SELECT p_user, eff.item_id, eff.delta FROM eff ORDER BY eff.item_id
                    ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = i.quantity + EXCLUDED.quantity),
         aud AS (INSERT INTO inventory_events (job_id, action, user_id, item_id, delta)
                    SELECT p_job_id, 'effect', p_user, eff.item_id, eff.delta FROM eff ORDER BY eff.item_id)
    SELECT coalesce(string_agg(format('%s:%s', to_json(eff.item_id), eff.delta), ','
                               ORDER BY eff.item_id), '') INTO effects FROM eff;
    RETURN format('{"used":%s,"remaining":%s,"granted":{%s}}', p_quantity, remaining, effects)::json;
END $$;

CREATE OR REPLACE FUNCTION inventory_apply(p_queue text, p_job_id text, p_job_ts bigint,
        p_name text, p_data jsonb, OUT already_applied boolean, OUT result json)
    LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    p := inventory_payload(p_name, p_data);
    INSERT INTO processed_jobs (queue, job_id, job_ts, name)
        VALUES (p_queue, p_job_id, p_job_ts, p_name) ON CONFLICT DO NOTHING;
    already_applied := NOT FOUND;
    IF already_applied THEN
        SELECT pj.result INTO result FROM processed_jobs pj
            WHERE pj.queue = p_queue AND pj.job_id = p_job_id AND pj.job_ts = p_job_ts;
        RETURN;
    END IF;
    IF p_name = 'use_item' THEN
        result := inventory_use(p_job_id, p.user_id, p.item_id, p.quantity);
    ELSE
        result := inventory_reward(p_job_id, p.user_id, p.items);
    END IF;
    UPDATE processed_jobs pj SET result = inventory_apply.result
        WHERE pj.queue = p_queue AND pj.job_id = p_job_id AND pj.job_ts = p_job_ts;
END $$;

-- inventory_apply_batch(queue, jobs) is group commit for inventory_worker: several jobs that are
-- ready at the same time, applied in ONE transaction (one commit, one WAL flush) instead of one
-- each. Each job is applied exactly as inventory_apply applies it alone, inside a subtransaction
-- of its own (BEGIN ... EXCEPTION), so a job that raises (IV001, a constraint, a deadlock...)
-- undoes only its own work and the others still commit. `jobs` is a JSON array of
-- {"id", "ts", "name", "data"}; one row comes back per job, `i` being its position (from 1),
-- with err_state and err_message (the SQLSTATE and the primary message) when it raised. The
-- caller gives the jobs in an order that cannot deadlock with another batch (inventory_worker
-- sorts them by user, so every transaction locks users' rows in the same order) and retries a
-- job that failed with a transient SQLSTATE on its own.
CREATE OR REPLACE FUNCTION inventory_apply_batch(p_queue text, p_jobs jsonb)
    RETURNS TABLE (i bigint, already_applied boolean, result json, err_state text, err_message text)
    LANGUAGE plpgsql AS $$
DECLARE
    j record;
    a record;
BEGIN
    FOR j IN SELECT x.v, x.ord FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS x(v, ord) LOOP
        i := j.ord;
        err_state := NULL;
        err_message := NULL;
        BEGIN
            a := inventory_apply(p_queue, j.v ->> 'id', (j.v ->> 'ts')::bigint, j.v ->> 'name',
                                 j.v -> 'data');
            already_applied := a.already_applied;
            result := a.result;
        EXCEPTION WHEN OTHERS THEN
            already_applied := NULL;
            result := NULL;
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
