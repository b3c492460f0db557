-- Storing a new job as Bull's producer does (docs/bull.md §3). k: wait, paused, metaPaused,
-- id, delayed, priority keys; a: base, customId, name, data, opts, timestamp, delay, due,
-- priority, pushCmd, token, deid (debounce id or ""), deTtl (ms or ""). Returns the job id:
-- the existing one for a duplicate custom id, the debounce owner's when debounced.
--@include push

local function addJob(k, a)
  local counter = redis.call("INCR", k.id)
  local jobId = a.customId
  if jobId == "" then
    jobId = tostring(counter)
  elseif redis.call("EXISTS", a.base .. jobId) == 1 then
    redis.call("PUBLISH", a.base .. "duplicated@" .. a.token, jobId)
    return jobId
  end
  local extra = {}
  if a.deid ~= "" then
    -- the first job of a debounce id owns it (until its TTL, if any, or until it finishes)
    local deKey = a.base .. "de:" .. a.deid
    local taken
    if a.deTtl ~= "" then
      taken = redis.call("SET", deKey, jobId, "PX", a.deTtl, "NX")
    else
      taken = redis.call("SET", deKey, jobId, "NX")
    end
    if not taken then
      local owner = redis.call("GET", deKey)
      redis.call("PUBLISH", a.base .. "debounced@" .. a.token, owner)
      return owner
    end
    extra = { "deid", a.deid }
  end
  local jobKey = a.base .. jobId
  redis.call("HMSET", jobKey, "name", a.name, "data", a.data, "opts", a.opts,
    "timestamp", a.timestamp, "delay", a.delay, "priority", a.priority, unpack(extra))

  local due = tonumber(a.due)
  if due ~= 0 then
    redis.call("ZADD", k.delayed, due * 0x1000 + bit.band(counter, 0xfff), jobId)
    redis.call("PUBLISH", k.delayed, due)
    return jobId
  end
  local list = readyList(k.metaPaused, k.wait, k.paused)
  local p = tonumber(a.priority)
  if p == 0 then
    redis.call(a.pushCmd, list, jobId)
  else
    pushPrioritized(k.priority, list, p, jobId)
  end
  redis.call("PUBLISH", a.base .. "waiting@" .. a.token, jobId)
  return jobId
end

-- addJob called with the keys and arguments addJob.lua and addRepeatJob.lua both begin with.
local function addJobFromArgs()
  return addJob(
    { wait = KEYS[1], paused = KEYS[2], metaPaused = KEYS[3], id = KEYS[4], delayed = KEYS[5],
      priority = KEYS[6] },
    { base = ARGV[1], customId = ARGV[2], name = ARGV[3], data = ARGV[4], opts = ARGV[5],
      timestamp = ARGV[6], delay = ARGV[7], due = ARGV[8], priority = ARGV[9],
      pushCmd = ARGV[10], token = ARGV[11], deid = ARGV[12], deTtl = ARGV[13] })
end
