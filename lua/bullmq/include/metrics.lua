-- metrics: per-minute counters of finished jobs (docs/bullmq.md §8.4).
--@include core

local function recordMetric(metricsKey, maxPoints, now)
  local before = rcall("HINCRBY", metricsKey, "count", 1) - 1
  local lastTs = rcall("HGET", metricsKey, "prevTS")
  if not lastTs then
    rcall("HSET", metricsKey, "prevTS", now, "prevCount", 0)
    return
  end
  local minutes = math.min(math.floor(now / 60000) - math.floor(lastTs / 60000), tonumber(maxPoints))
  if minutes <= 0 then return end
  local dataKey = metricsKey .. ":data"
  -- One LPUSH of {delta, 0, 0, ...}: the zeros (empty minutes) end up above
  -- the delta, i.e. newer.
  local points = { before - rcall("HGET", metricsKey, "prevCount") }
  for i = 2, minutes do points[i] = 0 end
  eachChunk(#points, 7000, function(a, b) rcall("LPUSH", dataKey, unpack(points, a, b)) end)
  rcall("LTRIM", dataKey, 0, maxPoints - 1)
  rcall("HSET", metricsKey, "prevCount", before, "prevTS", now)
end
