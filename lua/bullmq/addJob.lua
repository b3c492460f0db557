-- addJob: store a new job and make it waiting, prioritized or delayed, as
-- Node's Queue.add does (docs/bullmq.md §4.17). One script for the three
-- paths a producer without parents can take.
-- @key wait             queue
-- @key paused           queue
-- @key meta             queue
-- @key id               queue
-- @key delayed          queue
-- @key active           queue
-- @key events           queue
-- @key marker           queue
-- @key prioritized      queue
-- @key pc               queue
-- @arg prefix           base
-- @arg customId         str     custom job id, or "" for the next counter value
-- @arg name             str
-- @arg timestamp        str     creation time (ms, decimal text)
-- @arg data             str     the job's data, JSON text stored verbatim
-- @arg opts             bin     msgpack map of the options in their stored form (attempts first, de/kl aliases)
-- Reply: the job id (a new one, or the existing one for a duplicated custom
--        id or a deduplicated add)
--@include core
--@include events
--@include gate
--@include enqueue

local prefix, customId, name, data = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local timestamp = tonumber(ARGV[4])
local opts = cmsgpack.unpack(ARGV[6])
local q = {
  wait = KEYS[1], paused = KEYS[2], meta = KEYS[3], delayed = KEYS[5],
  active = KEYS[6], events = KEYS[7], marker = KEYS[8], prioritized = KEYS[9],
  pc = KEYS[10],
}

-- The id counter moves on every add, whatever id the job ends up with.
local counter = rcall("INCR", KEYS[4])
local cap = eventsCap(q.meta)

local jobId = customId
if jobId == "" then
  jobId = counter .. ""
elseif rcall("EXISTS", prefix .. jobId) == 1 then
  -- A job with this id exists: keep it untouched and report its id.
  rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "duplicated", "jobId", jobId)
  return jobId
end

-- ---- deduplication (opts.de = { id, ttl?, extend?, replace? }) ------------

local function claimWindow(key, owner, de)
  local ttl = de["ttl"]
  if ttl and ttl > 0 then
    rcall("SET", key, owner, "PX", ttl)
  else
    rcall("SET", key, owner)
  end
end

local function announceKept(keptId, dedupId, droppedId)
  rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "deduplicated",
    "jobId", keptId, "deduplicationId", dedupId, "deduplicatedJobId", droppedId)
end

-- A window without expiry whose owner job is gone (lost in an outage) is
-- stale: the new job takes it over. Returns true when that happened.
local function takeOverStale(key, owner, dedupId, de)
  if owner and rcall("PTTL", key) == -1 and rcall("EXISTS", prefix .. owner) == 0 then
    rcall("DEL", key, prefix .. "dn:" .. dedupId)
    claimWindow(key, jobId, de)
    return true
  end
  return false
end

-- Returns the id of the job that keeps the window (the add stops there), or
-- nil when this job goes ahead.
local function deduplicate(de)
  local dedupId = de["id"]
  local key = prefix .. "de:" .. dedupId
  local ttl = de["ttl"]
  if de["replace"] then
    local owner = rcall("GET", key)
    if not owner then
      claimWindow(key, jobId, de)
      return nil
    end
    if rcall("ZREM", q.delayed, owner) > 0 then
      -- The owner is still delayed: it is replaced by this job.
      local ownerKey = prefix .. owner
      rcall("DEL", ownerKey, ownerKey .. ":logs", ownerKey .. ":dependencies",
        ownerKey .. ":processed", ownerKey .. ":failed", ownerKey .. ":unsuccessful")
      rcall("XADD", q.events, "*", "event", "removed", "jobId", owner, "prev", "delayed")
      announceKept(jobId, dedupId, owner)
      rcall("DEL", prefix .. "dn:" .. dedupId)
      if ttl and ttl > 0 and not de["extend"] then
        rcall("SET", key, jobId, "KEEPTTL")
      else
        claimWindow(key, jobId, de)
      end
      return nil
    end
    if takeOverStale(key, owner, dedupId, de) then return nil end
    -- The owner already runs or ran: it stays, silently.
    return owner
  end

  local taken
  if ttl and ttl > 0 then
    if de["extend"] then
      local owner = rcall("GET", key)
      if not owner then
        claimWindow(key, jobId, de)
        return nil
      end
      if takeOverStale(key, owner, dedupId, de) then return nil end
      claimWindow(key, owner, de) -- restart the window's ttl
      announceKept(owner, dedupId, jobId)
      return owner
    end
    taken = not rcall("SET", key, jobId, "PX", ttl, "NX")
  else
    taken = not rcall("SET", key, jobId, "NX")
  end
  if not taken then return nil end
  local owner = rcall("GET", key)
  if takeOverStale(key, owner, dedupId, de) then return nil end
  announceKept(owner, dedupId, jobId)
  return owner
end

local de = opts["de"]
local dedupId = de and de["id"]
if dedupId then
  local kept = deduplicate(de)
  if kept then return kept end
end

-- ---- store ----------------------------------------------------------------

local delay = opts["delay"] or 0
local priority = opts["priority"] or 0
local fields = { "name", name, "data", data, "opts", cjson.encode(opts),
  "timestamp", timestamp, "delay", delay, "priority", priority }
if dedupId then
  fields[#fields + 1] = "deid"
  fields[#fields + 1] = dedupId
end
rcall("HMSET", prefix .. jobId, unpack(fields))
rcall("XADD", q.events, "*", "event", "added", "jobId", jobId, "name", name)

-- ---- enqueue --------------------------------------------------------------

if type(delay) == "number" and delay > 0 then
  local score, due = delayedScoreFor(q.delayed, timestamp, delay)
  rcall("ZADD", q.delayed, score, jobId)
  rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "delayed", "jobId", jobId,
    "delay", due)
  refreshDelayMarker(q.marker, q.delayed)
  return jobId
end

local gate = readGate(q.meta, q.active)
if priority ~= 0 then
  addPrioritized(q, gate, priority, jobId)
else
  pushReady(q, gate, opts["lifo"] and "RPUSH" or "LPUSH", jobId)
end
rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "waiting", "jobId", jobId)
return jobId
