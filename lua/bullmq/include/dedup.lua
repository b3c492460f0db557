-- dedup: releasing a deduplication window when its owner finishes, and
-- creating the job that keepLastIfActive parked in <P>dn:<id> meanwhile.
--@include core
--@include events
--@include gate
--@include enqueue

-- DEL <P>de:<id> when it has no TTL and still names this job (or its TTL is
-- exactly 0).
local function releaseDedupOnFinish(prefix, dedupId, jobId)
  if not dedupId then return end
  local key = prefix .. "de:" .. dedupId
  local ttl = rcall("PTTL", key)
  if ttl == 0 then
    rcall("DEL", key)
  elseif ttl == -1 and rcall("GET", key) == jobId then
    rcall("DEL", key)
  end
end

-- If a keepLastIfActive add parked a job in <P>dn:<dedupId> while the owner
-- was active, create it now: id = stored jid or the next id counter value,
-- de key re-pointed at it, stored and enqueued like a producer add
-- ("added", then "delayed" or "waiting"), linked to its parent if any.
-- q: keys of this queue (wait, paused, active, meta, marker, prioritized,
-- pc, delayed, events).
local function createParkedDedupJob(prefix, dedupId, q, now)
  local parkedKey = prefix .. "dn:" .. dedupId
  if rcall("EXISTS", parkedKey) == 0 then return end
  local f = rcall("HMGET", parkedKey, "name", "data", "opts", "pk", "pd", "pdk", "rjk", "jid")
  local counter = rcall("INCR", prefix .. "id") .. ""
  local jobId = f[8] or counter
  local jobKey = prefix .. jobId
  local opts = cjson.decode(f[3])
  local parentKey, parentJson, parentDeps, schedulerId = f[4] or nil, f[5] or nil, f[6] or nil, f[7] or nil

  local de = opts["de"]
  local ttl = de and de["ttl"]
  if (not (de and de["keepLastIfActive"])) and ttl and ttl > 0 then
    rcall("SET", prefix .. "de:" .. dedupId, jobId, "PX", ttl)
  else
    rcall("SET", prefix .. "de:" .. dedupId, jobId)
  end

  local cap = eventsCap(q.meta)
  -- the job hash, as a producer writes it
  local delay = opts["delay"] or 0
  local priority = opts["priority"] or 0
  local hash = { "name", f[1], "data", f[2], "opts", cjson.encode(opts),
    "timestamp", now, "delay", delay, "priority", priority }
  if parentKey ~= nil then
    hash[#hash + 1] = "parentKey"; hash[#hash + 1] = parentKey
    hash[#hash + 1] = "parent"; hash[#hash + 1] = parentJson
  end
  if schedulerId then hash[#hash + 1] = "rjk"; hash[#hash + 1] = schedulerId end
  if de and de["id"] then hash[#hash + 1] = "deid"; hash[#hash + 1] = de["id"] end
  rcall("HMSET", jobKey, unpack(hash))
  rcall("XADD", q.events, "*", "event", "added", "jobId", jobId, "name", f[1])

  if delay ~= 0 then
    local score, due = delayedScoreFor(q.delayed, now, tonumber(delay))
    rcall("ZADD", q.delayed, score, jobId)
    rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "delayed", "jobId", jobId, "delay", due)
    refreshDelayMarker(q.marker, q.delayed)
  else
    local gate = readGate(q.meta, q.active)
    if priority > 0 then
      addPrioritized(q, gate, priority, jobId)
    else
      pushReady(q, gate, opts["lifo"] and "RPUSH" or "LPUSH", jobId)
    end
    rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "waiting", "jobId", jobId)
  end

  if parentDeps then rcall("SADD", parentDeps, jobKey) end
  rcall("DEL", parkedKey)
end
