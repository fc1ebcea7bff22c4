package notify

import (
	"encoding/json"
	"testing"
)

// The message names the provider's delivery id beside forgelink's ids, so
// receivers can match the provider's redeliveries.
func TestMessageJSONCarriesProviderDeliveryID(t *testing.T) {
	m := Message{DeliveryID: "d-1", EventID: "e-1", ProviderDeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
	var got map[string]any
	if err := json.Unmarshal(m.JSON(), &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"deliveryId": "d-1", "eventId": "e-1", "providerDeliveryId": m.ProviderDeliveryID} {
		if got[key] != want {
			t.Errorf("%s = %v, want %q", key, got[key], want)
		}
	}
}
