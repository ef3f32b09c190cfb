package ldap_test

func stopSamba() {}
