#!/bin/sh
# Creates, unless they exist: Warden's namespace, a namespace for producers,
# Warden's search attributes in its namespace, and the `warden` Nexus endpoint that lets producers reach Warden's Nexus
# service without any access to Warden's namespace (docs/producers.md).
# Runs with the admin-tools image (docker-compose.yml, service temporal-setup).
set -eu
attempts=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  attempts=$((attempts + 1))
  if [ "$attempts" -ge 30 ]; then
    echo "Temporal at $TEMPORAL_ADDRESS is not healthy after 60 s" >&2
    exit 1
  fi
  sleep 2
done
for namespace in "$WARDEN_NAMESPACE" "$PRODUCER_NAMESPACE"; do
  temporal operator namespace describe --namespace "$namespace" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
    temporal operator namespace create --namespace "$namespace" --retention 30d --address "$TEMPORAL_ADDRESS"
done
# Warden's search attributes (workflows/search-attributes.ts): its workflows set them, and its worker
# refuses to start without them. Registering one that exists is refused, so only the missing are added.
registered=$(temporal operator search-attribute list --namespace "$WARDEN_NAMESPACE" --address "$TEMPORAL_ADDRESS")
for attribute in WardenEngine=Keyword WardenSymbol=Keyword WardenStrategy=Keyword WardenStage=Keyword \
  WardenOutcome=Keyword WardenDeniedGate=Keyword WardenAwaitingApproval=KeywordList; do
  name=${attribute%%=*}
  printf '%s\n' "$registered" | grep -qw "$name" ||
    temporal operator search-attribute create --namespace "$WARDEN_NAMESPACE" --name "$name" \
      --type "${attribute#*=}" --address "$TEMPORAL_ADDRESS"
done
temporal operator nexus endpoint get --name warden --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
  temporal operator nexus endpoint create --name warden \
    --target-namespace "$WARDEN_NAMESPACE" --target-task-queue "$WARDEN_TASK_QUEUE" \
    --description "Warden: governed deals and commands (executeDeal, executeCommand)" \
    --address "$TEMPORAL_ADDRESS"
echo "Namespaces $WARDEN_NAMESPACE and $PRODUCER_NAMESPACE, Warden's search attributes and Nexus endpoint warden are in place"
