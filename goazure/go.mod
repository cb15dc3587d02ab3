module github.com/go-azure-deploy/go-azure-deploy/goazure

go 1.22
