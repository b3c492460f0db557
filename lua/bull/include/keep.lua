-- Trimming a finished set (completed or failed) to what the job's keep rule allows
-- (docs/bull.md §4): drop jobs finished more than `age` seconds before `now`, then all but
-- the newest `count`. A job dropped loses its hash and its logs.
local function dropJob(base, jobId)
  redis.call("DEL", base .. jobId, base .. jobId .. ":logs")
end

local function keepNewest(base, set, count)
  local old = redis.call("ZREVRANGE", set, count, -1)
  for _, id in ipairs(old) do
    dropJob(base, id)
  end
  redis.call("ZREMRANGEBYRANK", set, 0, -(count + 1))
end

local function keepYounger(base, set, now, age)
  local cutoff = now - age * 1000
  local old = redis.call("ZREVRANGEBYSCORE", set, cutoff, "-inf")
  for _, id in ipairs(old) do
    dropJob(base, id)
  end
  redis.call("ZREMRANGEBYSCORE", set, "-inf", cutoff)
end

-- Removes the debounce key a job owned, unless it expires by itself.
local function freeDebounce(base, deid)
  if deid then
    local key = base .. "de:" .. deid
    local ttl = redis.call("PTTL", key)
    if ttl == -1 or ttl == 0 then
      redis.call("DEL", key)
    end
  end
end
