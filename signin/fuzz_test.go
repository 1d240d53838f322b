package signin

import (
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/oauth"
)

// FuzzTransaction: whatever authorization_details the PAR parser accepts,
// Transaction either refuses it (ErrTransfer) or returns a transaction
// txauth validates, whose hash is stable and changes with the amount.
func FuzzTransaction(f *testing.F) {
	f.Add(transferJSON)
	f.Add(`[{"type":"jp_bank_transfer","amount":"1","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"ﾔﾏﾀﾞ"},"purpose":""}]`)
	f.Add(`[{"type":"jp_bank_transfer","amount":"100","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"A"},"purpose":"x"},{"type":"account_information","actions":["balances"]}]`)
	f.Add(`[{"type":"account_information","actions":["balances"]}]`)
	f.Fuzz(func(t *testing.T, raw string) {
		ds, err := oauth.ParseDetails(raw, []string{oauth.DetailTransfer, oauth.DetailAccounts})
		if err != nil {
			return
		}
		tx, err := Transaction(ds)
		if err != nil {
			if !errors.Is(err, ErrTransfer) {
				t.Fatalf("Transaction = %v, want ErrTransfer", err)
			}
			return
		}
		if tx == nil {
			for _, d := range ds {
				if d.Type == oauth.DetailTransfer {
					t.Fatal("a transfer was dropped")
				}
			}
			return
		}
		if err := tx.Validate(); err != nil {
			t.Fatalf("returned transaction does not validate: %v", err)
		}
		again, _ := Transaction(ds)
		if again.Hash() != tx.Hash() {
			t.Fatal("hash not stable")
		}
		other := *tx
		other.AmountJPY++
		if other.Hash() == tx.Hash() {
			t.Fatal("hash does not cover the amount")
		}
	})
}
