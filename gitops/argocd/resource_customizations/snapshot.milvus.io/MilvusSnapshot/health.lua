-- Argo CD health of a MilvusSnapshot (snapshot.milvus.io). Uses no string or math library, so it runs unchanged
-- from argocd-cm (resource.customizations.health.snapshot.milvus.io_MilvusSnapshot), where Argo CD opens neither.
-- Pending deletion and a spec not yet observed are Progressing; Stalled=True (a terminal failure) is Degraded.
-- A snapshot gone from Milvus (Ready=False SnapshotMissing) is Degraded; other Ready=False reasons are
-- retried by the operator (waiting for the connection, Milvus unavailable) and stay Progressing.
local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

if obj.metadata.deletionTimestamp ~= nil then
  local message = "Pending deletion"
  if obj.metadata.finalizers ~= nil and #obj.metadata.finalizers > 0 then
    message = message .. "; blocked by finalizers: " .. table.concat(obj.metadata.finalizers, ", ")
  end
  local ready = condition("Ready")
  if ready ~= nil and ready.status ~= "True" then
    message = message .. " (" .. describe(ready) .. ")"
  end
  return {status = "Progressing", message = message}
end

if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration < (obj.metadata.generation or 0) then
  return {status = "Progressing", message = "Waiting for the operator to observe the latest spec"}
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = describe(stalled)}
end
local ready = condition("Ready")

if ready ~= nil and ready.status == "True" then
  return {status = "Healthy", message = ready.message}
end
if obj.status.phase == "Failed" or (ready ~= nil and ready.reason == "SnapshotMissing") then
  return {status = "Degraded", message = ready ~= nil and describe(ready) or "Failed"}
end
if ready ~= nil then
  return {status = "Progressing", message = describe(ready)}
end
return {status = "Progressing", message = obj.status.phase or "Pending"}
