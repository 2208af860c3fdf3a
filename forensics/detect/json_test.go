package detect

import "encoding/json"

func jsonRoundTrip(r *LayerResult) (*LayerResult, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var out LayerResult
	return &out, json.Unmarshal(b, &out)
}
