-- Argo CD health of a MilvusSnapshotSchedule (snapshot.milvus.io). Uses no string or math library, so it runs unchanged
-- from argocd-cm (resource.customizations.health.snapshot.milvus.io_MilvusSnapshotSchedule), where Argo CD opens neither.
-- Pending deletion and a spec not yet observed are Progressing; Stalled=True (a terminal failure) is Degraded.
-- spec.suspend is Suspended; a schedule whose newest snapshot failed after its newest good one
-- (LastSnapshotSucceeded=False) or that is not Ready is Degraded, with the reason.
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

if obj.spec.suspend == true then
  return {status = "Suspended", message = ready ~= nil and ready.message or "Suspended"}
end
if ready ~= nil and ready.status == "False" then
  return {status = "Degraded", message = describe(ready)}
end
local last = condition("LastSnapshotSucceeded")
if last ~= nil and last.status == "False" then
  return {status = "Degraded", message = describe(last)}
end
if ready ~= nil and ready.status == "True" then
  return {status = "Healthy", message = ready.message}
end
return {status = "Progressing", message = ready ~= nil and describe(ready) or "Waiting for the operator"}
