module pidx

go 1.19
