-- updateJobScheduler: create the next iteration of a job scheduler when a
-- worker takes the current one, as Node's Worker does (docs/bullmq.md §4.16).
-- @key repeat           queue
-- @key delayed          queue
-- @key wait             queue
-- @key paused           queue
-- @key meta             queue
-- @key prioritized      queue
-- @key marker           queue
-- @key id               queue
-- @key events           queue
-- @key pc               queue
-- @key active           queue
-- @arg nextMillis       str     next time (ms) from the client's cron, or "" for `every` (computed here from the scheduler)
-- @arg schedulerId      str
-- @arg opts             bin     msgpack opts of the next job
-- @arg now              int     now (ms)
-- @arg prefix           base
-- @arg jobId            str     id of the job taken
-- Reply: the new job's id, or nil when the scheduler is gone, the taken job is
--        not its current iteration, or the next job already exists.
--@include core
--@include events
--@include gate
--@include enqueue

local q = {
  delayed = KEYS[2], wait = KEYS[3], paused = KEYS[4], meta = KEYS[5],
  prioritized = KEYS[6], marker = KEYS[7], events = KEYS[9], pc = KEYS[10],
  active = KEYS[11],
}
local repeatKey = KEYS[1]
local schedulerId = ARGV[2]
local opts = cmsgpack.unpack(ARGV[3])
local now = tonumber(ARGV[4])

local current = rcall("ZSCORE", repeatKey, schedulerId)
if not current then return nil end
current = tonumber(current)

local schedulerKey = repeatKey .. ":" .. schedulerId
local sched = rcall("HMGET", schedulerKey, "name", "data", "every", "startDate", "offset")
local nextMillis = tonumber(ARGV[1])

-- `every`: one interval after the current iteration; when that is already
-- past, the first slot after now, aligned on the scheduler's offset.
local every = tonumber(sched[3])
local repeatOpts = opts["repeat"]
if not every and repeatOpts and repeatOpts["every"] then
  every = tonumber(repeatOpts["every"])
end
if every then
  local offset = tonumber(sched[5] or (repeatOpts and repeatOpts["offset"]) or 0)
  nextMillis = current + every
  if nextMillis < now then
    local slot = math.floor(now / every) * every + (offset or 0)
    if slot <= now then slot = slot + every end
    nextMillis = slot
  end
  nextMillis = math.floor(nextMillis)
end

local nextId = "repeat:" .. schedulerId .. ":" .. nextMillis
local nextKey = schedulerKey .. ":" .. nextMillis
if ARGV[6] ~= "repeat:" .. schedulerId .. ":" .. current then return nil end

local cap = eventsCap(q.meta)
if rcall("EXISTS", nextKey) == 1 then
  rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "duplicated", "jobId", nextId)
  return nil
end

rcall("ZADD", repeatKey, nextMillis, schedulerId)
rcall("HINCRBY", schedulerKey, "ic", 1)
rcall("INCR", KEYS[8])

-- 5.x (docs/bullmq.md §9.3): a scheduler hash without `data` (a 5.x legacy
-- repeatable) takes the taken job's data as its template and keeps it; 6.x
-- gives such iterations "{}".
local takenKey = ARGV[5] .. ARGV[6]
local v5 = not isV6Queue(q.meta)
if v5 then
  local template = sched[2] or rcall("HGET", takenKey, "data")
  if template and template ~= "{}" then rcall("HSET", schedulerKey, "data", template) end
  sched[2] = template
end

local delay = nextMillis - now
if delay < 0 then delay = 0 end
opts["delay"] = delay
opts["jobId"] = nextId
local priority = opts["priority"] or 0

-- the job hash, as a producer's add writes it
local hash = { "name", sched[1], "data", sched[2] or "{}", "opts", cjson.encode(opts),
  "timestamp", ARGV[4], "delay", delay, "priority", priority, "rjk", schedulerId }
local de = opts["de"]
if de and de["id"] then hash[#hash + 1] = "deid"; hash[#hash + 1] = de["id"] end
rcall("HMSET", nextKey, unpack(hash))
rcall("XADD", q.events, "*", "event", "added", "jobId", nextId, "name", sched[1])

if delay ~= 0 then
  local score, due = delayedScoreFor(q.delayed, now, delay)
  rcall("ZADD", q.delayed, score, nextId)
  rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "delayed", "jobId", nextId, "delay", due)
  refreshDelayMarker(q.marker, q.delayed)
else
  local gate = readGate(q.meta, q.active)
  if priority > 0 then
    addPrioritized(q, gate, priority, nextId)
  else
    pushReady(q, gate, opts["lifo"] and "RPUSH" or "LPUSH", nextId)
  end
  rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "waiting", "jobId", nextId)
end
-- 5.x also names the next iteration on the taken job.
if v5 then rcall("HSET", takenKey, "nrjid", nextId) end
return nextId
