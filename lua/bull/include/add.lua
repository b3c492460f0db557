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
