-- events: the events stream cap (meta "opts.maxLenEvents", default 10000).
--@include core
--@include gate

local function eventsCap(metaKey)
  local m = readMeta(metaKey)
  local cap = m[5]
  if not cap then
    cap = 10000
    rcall("HSET", metaKey, "opts.maxLenEvents", cap)
    m[5] = cap
  end
  return cap
end

-- Approximate trim done before a script emits its own (uncapped) events; once
-- per script call and stream (a batch of finishes trims once).
local trimmedStreams = {}
local function trimEventsStream(metaKey, eventsKey)
  if trimmedStreams[eventsKey] then return end
  trimmedStreams[eventsKey] = true
  rcall("XTRIM", eventsKey, "MAXLEN", "~", eventsCap(metaKey))
end
