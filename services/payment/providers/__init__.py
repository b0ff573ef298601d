"""Payment providers behind one interface (R-PAY-1): alipay, wechat, bank and the local sandbox."""
