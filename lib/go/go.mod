module pidx.dev/pidx

go 1.19
