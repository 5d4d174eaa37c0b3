"""jixiao (绩效): read 财政项目支出绩效自评表 out of PDFs, check their arithmetic, and hand a
person only the fields that need a human look."""

__version__ = "0.1.0"
